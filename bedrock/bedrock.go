// Package bedrock implements genai.ChatModel on Amazon Bedrock Runtime, with the Converse
// and ConverseStream APIs of the official aws-sdk-go-v2 client; genai.Embedder on Titan
// Text Embeddings (InvokeModel); and genai.KnowledgeBase on Amazon Bedrock Knowledge
// Bases, with Bedrock Agent Runtime's Retrieve and RetrieveAndGenerate[Stream] (kb.go).
//
// Configuration is the SDK's own chain, used as is: AWS_REGION, profiles, IAM roles, and
// AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME or
// AWS_ENDPOINT_URL to point the clients at another endpoint (as the tests do, at
// bedrocktest and agentruntimetest). A Bedrock API key in AWS_BEARER_TOKEN_BEDROCK is
// the SDK's too: Bedrock Runtime calls then send it as a bearer token instead of signing
// with SigV4, and no AWS access keys are needed for them.
package bedrock

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"genai/internal/httpbody"
)

// Defaults of Options.
const (
	DefaultModel       = "anthropic.claude-3-haiku-20240307-v1:0"
	DefaultMaxTokens   = 2048
	DefaultMaxAttempts = 4
	DefaultMaxBackoff  = 2 * time.Second
	// DefaultIdleConnTimeout closes a pooled connection to Bedrock that has been idle
	// this long: under the 60 s idle timeout of the usual middleboxes (load balancers,
	// proxies; a NAT gateway's is 350 s), so that a connection one of them dropped
	// silently is closed by us first rather than reused into a hang, and an idle server
	// holds no sockets. A busy server reuses its connections long before.
	DefaultIdleConnTimeout = 30 * time.Second
	// DefaultPingTimeout is how long an HTTP/2 connection to Bedrock may be silent
	// before it is pinged, and how long the ping may go unanswered before the connection
	// is closed. A Bedrock that is generating answers pings at once; a frozen endpoint
	// or a dead path does not, so its calls fail within twice this time, where a
	// whole-answer Converse, which sends nothing until it is complete, could otherwise
	// only wait for its whole-call deadline.
	DefaultPingTimeout = 15 * time.Second
)

// Options configure a ChatModel. Zero fields take the defaults above.
type Options struct {
	// DefaultModel is the model id, inference-profile id or ARN used when a request names
	// none. Ids are passed to Bedrock unchanged.
	DefaultModel string
	// DefaultMaxTokens bounds an answer when a request sets no MaxTokens.
	DefaultMaxTokens int
	// MaxAttempts is how many times a throttled or failed call is tried in all, the
	// first included. Only the initial response of a stream is retried: once text has
	// been yielded, a failure is returned, never replayed. AWS_MAX_ATTEMPTS, when set in
	// the loaded config, overrides it (the SDK applies it last).
	MaxAttempts int
	// MaxBackoff caps the jittered exponential wait between attempts. Small, because a
	// user is waiting; a caller that wants to wait longer gets Error.RetryAfter.
	MaxBackoff time.Duration
	// IdleConnTimeout closes connections idle for this long (default
	// DefaultIdleConnTimeout). It applies when the SDK builds the HTTP client (an
	// aws.Config without an HTTPClient of another type, as LoadConfig returns).
	IdleConnTimeout time.Duration
	// PingTimeout is the silence after which an HTTP/2 connection is pinged, and the
	// wait for the answer before it is closed (default DefaultPingTimeout). It applies
	// as IdleConnTimeout does.
	PingTimeout time.Duration
	// Guardrail, when set, is applied to every chat call (guardrail.go).
	Guardrail *Guardrail
	// DefaultThinkingBudget, when set, is the thinking budget of a request that names
	// none, on a model that thinks, when nothing in the request rules thinking out
	// (thinking.go).
	DefaultThinkingBudget int
}

// ChatModel is a genai.ChatModel on Amazon Bedrock. It is safe for concurrent use.
type ChatModel struct {
	client *bedrockruntime.Client
	opts   Options
}

// New returns a ChatModel that calls Bedrock Runtime with cfg: its region, credentials,
// HTTP client and endpoint (BaseEndpoint, or the AWS_ENDPOINT_URL* variables read when cfg
// was loaded). The SDK's retryer is replaced by a standard one with opts' attempts and
// backoff.
func New(cfg aws.Config, opts Options) *ChatModel {
	if opts.DefaultModel == "" {
		opts.DefaultModel = DefaultModel
	}
	if opts.DefaultMaxTokens <= 0 {
		opts.DefaultMaxTokens = DefaultMaxTokens
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	// One retryer for the client, so its retry quota (a circuit breaker when Bedrock is
	// throttling every call) is shared by all calls.
	retryer := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = opts.MaxAttempts
		o.MaxBackoff = opts.MaxBackoff
	})
	client := bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) {
		o.Retryer = retryer
		o.HTTPClient = httpClient(o.HTTPClient, opts.IdleConnTimeout, opts.PingTimeout)
	})
	return &ChatModel{client: client, opts: opts}
}

// DefaultModel returns the model id used when a request names none.
func (m *ChatModel) DefaultModel() string { return m.opts.DefaultModel }

// LoadConfig loads the AWS configuration the usual way (environment, shared files,
// container and instance roles), with region overriding AWS_REGION when not empty.
func LoadConfig(ctx context.Context, region string) (aws.Config, error) {
	var optFns []func(*config.LoadOptions) error
	if region != "" {
		optFns = append(optFns, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("bedrock: load AWS config: %w", err)
	}
	return cfg, nil
}

// APIKeyEnv is the variable holding a Bedrock API key. The SDK's Bedrock Runtime client
// reads it itself when it is built (New) and then authenticates with it as a bearer
// token, preferred to SigV4; it is named here for CredentialsAvailable.
const APIKeyEnv = "AWS_BEARER_TOKEN_BEDROCK"

// credentialsProbeTimeout bounds CredentialsAvailable: a container credentials endpoint or
// an SSO cache answers within it, and a machine without credentials must not wait.
const credentialsProbeTimeout = 3 * time.Second

// CredentialsAvailable reports whether a Bedrock API key is set (APIKeyEnv), or AWS
// credentials resolve for cfg's region from the environment, shared files, SSO, web
// identity or a container role. It never contacts
// the EC2 instance metadata service: the probe loads its own configuration with that
// client disabled, so on EC2 an instance role alone does not count (set the provider
// explicitly there). It gives up after a few seconds.
func CredentialsAvailable(ctx context.Context, cfg aws.Config) bool {
	if os.Getenv(APIKeyEnv) != "" {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, credentialsProbeTimeout)
	defer cancel()
	optFns := []func(*config.LoadOptions) error{
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
	if cfg.Region != "" {
		optFns = append(optFns, config.WithRegion(cfg.Region))
	}
	probe, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil || probe.Credentials == nil {
		return false
	}
	creds, err := probe.Credentials.Retrieve(ctx)
	return err == nil && creds.HasKeys()
}

// httpClient returns the SDK's HTTP client c with idle connections closed after idle
// (DefaultIdleConnTimeout when zero) and HTTP/2 connections health-checked by pings
// after ping (DefaultPingTimeout when zero), guarded by requestBodyGuard.
// WithTransportOptions keeps what the configuration loader set up, such as
// AWS_CA_BUNDLE's certificates; a client of another type is the caller's to configure.
func httpClient(c bedrockruntime.HTTPClient, idle, ping time.Duration) bedrockruntime.HTTPClient {
	if idle <= 0 {
		idle = DefaultIdleConnTimeout
	}
	if ping <= 0 {
		ping = DefaultPingTimeout
	}
	if b, ok := c.(*awshttp.BuildableClient); ok {
		c = b.WithTransportOptions(func(t *http.Transport) {
			t.IdleConnTimeout = idle
			// Each HTTP/1.1 connection, so each open stream over one, keeps buffers of
			// these sizes (4 KiB each by default): the write buffer only sends the
			// request, and the read buffer takes a burst of event frames (about 100
			// bytes each) in one read. Larger reads and writes, as of a long
			// conversation's request, bypass them. HTTP/2 connections, shared by many
			// streams, keep their own framer's buffers.
			t.ReadBufferSize, t.WriteBufferSize = 2048, 1024
			var h2 http.HTTP2Config // a copy: the transport's may be shared with others
			if t.HTTP2 != nil {
				h2 = *t.HTTP2
			}
			h2.SendPingTimeout, h2.PingTimeout = ping, ping
			t.HTTP2 = &h2
		})
	}
	return requestBodyGuard{c}
}

// requestBodyGuard works around a race between smithy-go and net/http that can kill a
// stream just after it starts. smithy-go closes the request body as soon as the response
// headers arrive, and its body's WriteTo returns io.EOF once closed. net/http, when it
// has written Content-Length bytes, probes the body for extra bytes with io.Copy, which
// uses WriteTo and takes that io.EOF for a failed write: if the response came back
// before the probe (a fast endpoint), the transport closes the connection under the
// response stream ("use of closed network connection"). Hiding WriteTo makes the probe
// use Read, which reports a clean io.EOF.
type requestBodyGuard struct{ client bedrockruntime.HTTPClient }

// Do implements bedrockruntime.HTTPClient.
func (g requestBodyGuard) Do(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = httpbody.NewOnce(req.Body)
	}
	// A streamed response keeps its request, and so the request's context, alive until
	// the stream ends. The SDK's context carries its whole middleware state, so the
	// request goes out with a context of its own that only follows cancellation: a
	// thousand open streams then hold kilobytes each less. When the call was made with
	// a context of withRequestContext and the SDK added no cancellation of its own (the
	// same Done channel: no cancel or timer context in between), that context is
	// used as is. Otherwise a new one follows the SDK's through context.AfterFunc,
	// which holds the SDK's context, and so its state, until the stream ends.
	parent := req.Context()
	if own, ok := parent.Value(requestContextKey{}).(context.Context); ok && own.Done() == parent.Done() {
		return g.client.Do(req.WithContext(own))
	}
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(parent, cancel)
	resp, err := g.client.Do(req.WithContext(ctx))
	if err != nil {
		stop()
		cancel()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: func() { stop(); cancel() }}
	return resp, nil
}

// releasingBody runs release once, when the response body is closed.
type releasingBody struct {
	io.ReadCloser
	once    sync.Once
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// requestContextKey is the key of the context withRequestContext records.
type requestContextKey struct{}

// withRequestContext returns ctx recording itself, for requestBodyGuard to send a
// call's HTTP request with: a context that holds none of the SDK's middleware state.
func withRequestContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestContextKey{}, ctx)
}
