// Package opensearch is a genai.NoteStore and a genai.ChunkStore on OpenSearch: a
// self-managed cluster, an Amazon OpenSearch Service domain, or an Amazon OpenSearch
// Serverless (AOSS) vector search collection. It talks to the cluster with the
// official opensearch-go client and signs requests with AWS SigV4 (service "aoss" or
// "es") from the AWS SDK's default credential chain, or uses HTTP basic auth, or none.
//
// One index holds the notes: each document is a note and its embedding, in a
// knn_vector field searched with HNSW by cosine similarity. The index records the
// embedding space it was built in (in the _meta of its mapping), and Open refuses an
// index of another space rather than mixing vectors that cannot be compared.
//
// Documents: on a cluster or a managed domain a note's document has the note's ID as
// its _id, so GetNote and DeleteNote go by _id and a put replaces in place. AOSS vector
// search collections refuse client-chosen _ids, so there the collection assigns them,
// the note's ID lives in the id field (which every index has, for sorting), GetNote and
// DeleteNote find documents by a term query on it, and a put writes the new version
// first and then deletes the old ones.
//
// Consistency: on a cluster or a managed domain every write waits for a refresh
// (refresh=wait_for), so a note is searchable when PutNotes returns. AOSS has no
// refresh: there a write is durable when PutNotes returns, but searches, ListNotes,
// GetNote and DeleteNote (all of which search there) see it only after about a second,
// and a note replaced twice within that second can briefly show up twice.
package opensearch

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/opensearch-project/opensearch-go/v4"
	"github.com/opensearch-project/opensearch-go/v4/opensearchapi"
	"github.com/opensearch-project/opensearch-go/v4/signer/awsv2"

	"genai"
)

// DefaultIndex is the index Open uses when Options.Index is empty.
const DefaultIndex = "genai-notes"

// Auth modes of Options.Auth.
const (
	AuthSigV4AOSS = "sigv4-aoss" // AWS SigV4 for Amazon OpenSearch Serverless (service "aoss")
	AuthSigV4ES   = "sigv4-es"   // AWS SigV4 for Amazon OpenSearch Service domains (service "es")
	AuthBasic     = "basic"      // HTTP basic auth with Username and Password
	AuthNone      = "none"       // no authentication
)

// The k-NN engines of a new index, all with HNSW and the cosinesimil space.
//
// On a cluster or a managed domain, Lucene: it supports cosinesimil on every
// OpenSearch 2.x (from 2.2) and 3.x and needs no native library memory, whereas nmslib
// is deprecated since 2.19 and refused for new indexes from 3.0, and faiss supports
// cosinesimil only from 2.19. On AOSS, faiss: it is the engine AOSS vector collections
// are built around (AWS's own tools convert other engines' mappings to faiss HNSW for
// them). Options.Engine overrides either.
const (
	DefaultEngine    = "lucene"
	ServerlessEngine = "faiss"
)

// Options configure Open.
type Options struct {
	// URL is the cluster's endpoint, such as https://abc123.us-east-1.aoss.amazonaws.com
	// or http://localhost:9200. Required.
	URL string

	// Index is the name of the index of notes; DefaultIndex if empty. It is created
	// if absent.
	Index string

	// Auth is AuthSigV4AOSS, AuthSigV4ES, AuthBasic or AuthNone. If empty it is
	// inferred from URL: SigV4 for hosts under aoss.amazonaws.com or es.amazonaws.com,
	// basic if the URL carries a user, else none.
	Auth string

	// Username and Password are the credentials of AuthBasic (or taken from the URL).
	Username, Password string

	// AWSConfig supplies the credentials of SigV4; nil loads the AWS SDK's default
	// configuration (environment, profiles, IAM roles).
	AWSConfig *aws.Config

	// Region is the AWS region SigV4 signs for. If empty: AWSConfig's region, else
	// the region in an AWS endpoint's host name.
	Region string

	// Space is the embedding space of the vectors the store will hold. Required.
	Space genai.EmbeddingSpace

	// Engine is the k-NN engine of a new index: "lucene", "faiss" or "nmslib". If
	// empty, ServerlessEngine with AuthSigV4AOSS, else DefaultEngine.
	Engine string

	// Transport, if set, carries the client's HTTP requests (for tests and proxies).
	Transport http.RoundTripper
}

// Store is a genai.NoteStore on one OpenSearch index, and a genai.ChunkStore on two
// more beside it (see chunks.go). It is safe for concurrent use.
type Store struct {
	client     *opensearchapi.Client
	url        string // without credentials, for messages
	index      string
	space      genai.EmbeddingSpace
	serverless bool // AOSS: no refresh, eventual visibility of writes in searches
	engine     string
	kb         chunkIndexes        // the indexes of documents and chunks, made on first use
	conv       conversationIndexes // the indexes of sessions and responses (conversations.go)
}

var _ genai.NoteStore = (*Store)(nil)

// Open connects to the cluster at opts.URL and returns a store on opts.Index, which it
// creates (with the knn_vector mapping of opts.Space) if absent. It fails with an
// EINVALID error when the options are wrong or the index holds vectors of another
// embedding space, and with an EUNAVAILABLE error when the cluster cannot be reached.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URL == "" {
		return nil, genai.Errorf(genai.EINVALID, "opensearch: no URL: set GENAI_OPENSEARCH_URL")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, genai.Errorf(genai.EINVALID, "opensearch: URL %q is not an http or https URL", redact(opts.URL))
	}
	if opts.Space.Model == "" || opts.Space.Dimensions < 1 {
		return nil, genai.Errorf(genai.EINVALID, "opensearch: embedding space %q needs a model and a positive number of dimensions", opts.Space)
	}
	if opts.Index == "" {
		opts.Index = DefaultIndex
	}
	if err := checkIndexName(opts.Index); err != nil {
		return nil, err
	}
	if opts.Auth == "" {
		opts.Auth = inferAuth(u)
	}
	if opts.Engine == "" {
		opts.Engine = DefaultEngine
		if opts.Auth == AuthSigV4AOSS {
			opts.Engine = ServerlessEngine
		}
	}

	cfg := opensearch.Config{Addresses: []string{opts.URL}, Transport: opts.Transport}
	s := &Store{url: redact(opts.URL), index: opts.Index, space: opts.Space, engine: opts.Engine}
	switch opts.Auth {
	case AuthSigV4AOSS, AuthSigV4ES:
		service := "es"
		if opts.Auth == AuthSigV4AOSS {
			service, s.serverless = "aoss", true
		}
		awsCfg, err := awsConfig(ctx, opts, u)
		if err != nil {
			return nil, err
		}
		if cfg.Signer, err = awsv2.NewSignerWithService(awsCfg, service); err != nil {
			return nil, fmt.Errorf("opensearch: SigV4 signer: %w", err)
		}
	case AuthBasic:
		cfg.Username, cfg.Password = opts.Username, opts.Password
		if cfg.Username == "" && u.User != nil {
			cfg.Username = u.User.Username()
			cfg.Password, _ = u.User.Password()
		}
		if cfg.Username == "" {
			return nil, genai.Errorf(genai.EINVALID, "opensearch: basic auth needs a username and password")
		}
	case AuthNone:
	default:
		return nil, genai.Errorf(genai.EINVALID, "opensearch: auth %q is not %q, %q, %q or %q (GENAI_OPENSEARCH_AUTH)",
			opts.Auth, AuthSigV4AOSS, AuthSigV4ES, AuthBasic, AuthNone)
	}
	client, err := opensearchapi.NewClient(opensearchapi.Config{Client: cfg})
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "opensearch: client for %s: %v", s.url, err)
	}
	s.client = client
	if err := s.ensureIndex(ctx, opts.Engine); err != nil {
		client.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the client's connections.
func (s *Store) Close() error { return s.client.Close() }

// Index returns the name of the store's index.
func (s *Store) Index() string { return s.index }

// Space returns the embedding space of the store's vectors.
func (s *Store) Space() genai.EmbeddingSpace { return s.space }

func inferAuth(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	switch {
	case strings.HasSuffix(host, ".aoss.amazonaws.com"):
		return AuthSigV4AOSS
	case strings.HasSuffix(host, ".es.amazonaws.com"):
		return AuthSigV4ES
	case u.User != nil:
		return AuthBasic
	}
	return AuthNone
}

// awsConfig returns the AWS configuration SigV4 signs with, its region resolved.
func awsConfig(ctx context.Context, opts Options, u *url.URL) (aws.Config, error) {
	var cfg aws.Config
	if opts.AWSConfig != nil {
		cfg = opts.AWSConfig.Copy()
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx); err != nil {
			return aws.Config{}, genai.Errorf(genai.EINVALID, "opensearch: AWS configuration for SigV4: %v", err)
		}
	}
	if opts.Region != "" {
		cfg.Region = opts.Region
	}
	if cfg.Region == "" {
		cfg.Region = regionFromHost(u.Hostname())
	}
	if cfg.Region == "" {
		return aws.Config{}, genai.Errorf(genai.EINVALID, "opensearch: SigV4 needs an AWS region: set AWS_REGION")
	}
	if cfg.Credentials == nil {
		return aws.Config{}, genai.Errorf(genai.EINVALID, "opensearch: SigV4 needs AWS credentials: none in the AWS configuration")
	}
	return cfg, nil
}

// regionFromHost returns the region of an AWS endpoint such as
// abc.us-east-1.aoss.amazonaws.com or search-x.eu-west-1.es.amazonaws.com, or "".
func regionFromHost(host string) string {
	labels := strings.Split(strings.ToLower(host), ".")
	n := len(labels)
	if n >= 5 && labels[n-2] == "amazonaws" && (labels[n-3] == "aoss" || labels[n-3] == "es") {
		return labels[n-4]
	}
	return ""
}

// redact returns a URL without its password, for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func checkIndexName(name string) error {
	if name != strings.ToLower(name) || strings.ContainsAny(name, `\/*?"<>| ,#:`) ||
		strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+") ||
		name == "." || name == ".." || len(name) > 255 {
		return genai.Errorf(genai.EINVALID, "opensearch: index name %q: must be lowercase, at most 255 bytes, not start with _, - or +, and not contain \\ / * ? \" < > | space , # :", name)
	}
	return nil
}
