package genai

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Note is a short document in the vector database: a title, a link and a text, found
// by meaning (its embedding) or by words.
type Note struct {
	ID        string    `json:"id"`
	Title     string    `json:"title"`
	Link      string    `json:"link"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
}

// Limits on a note and a search.
const (
	MaxNoteTextBytes  = 256 << 10 // bytes of Note.Text
	MaxNoteTitleBytes = 1024      // bytes of Note.Title
	MaxNoteLinkBytes  = 2048      // bytes of Note.Link
	MaxQueryBytes     = 4096      // bytes of a search query
	MaxSearchK        = 100       // results of one search
	DefaultSearchK    = 5
	MaxBulkNotes      = 1000 // notes in one bulk request
	MaxNoteIDBytes    = 128  // bytes of a note ID given in an import
)

// ValidateNoteID checks a note ID given by a client (in an import): 1 to
// MaxNoteIDBytes ASCII letters, digits, '-', '_', '.' and ':', so that it is safe in a
// URL path and a file name as it is.
func ValidateNoteID(id string) error {
	if id == "" {
		return Errorf(EINVALID, "id: empty")
	}
	if len(id) > MaxNoteIDBytes {
		return Errorf(EINVALID, "id: %d bytes, over the limit of %d", len(id), MaxNoteIDBytes)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return Errorf(EINVALID, "id: %q has %q; use letters, digits, '-', '_', '.' and ':'", id, c)
		}
	}
	return nil
}

// ContentID returns the ID a note without one is imported under: "sha256-" and the
// first 32 hex digits of the SHA-256 of its title, link and text. The same note
// imported again gets the same ID, so an import run twice stores it once.
func (n *Note) ContentID() string {
	h := sha256.New()
	for _, f := range []string{n.Title, n.Link, n.Text} {
		// Each field's length first, so that fields cannot run into one another.
		var l [8]byte
		binary.BigEndian.PutUint64(l[:], uint64(len(f)))
		h.Write(l[:])
		h.Write([]byte(f))
	}
	return "sha256-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Validate checks a note as a client sent it: text present, every field valid UTF-8
// and within its limit, a link without control characters. A link is any reference the
// user gives (a URL, a path such as docs/tea.md, an s3:// URI, plain words); pages show
// http(s) links as links and anything else as text. The error names the field.
func (n *Note) Validate() error {
	for _, f := range []struct {
		name, value string
		max         int
	}{{"title", n.Title, MaxNoteTitleBytes}, {"link", n.Link, MaxNoteLinkBytes}, {"text", n.Text, MaxNoteTextBytes}} {
		if !utf8.ValidString(f.value) {
			return Errorf(EINVALID, "%s: not valid UTF-8", f.name)
		}
		if len(f.value) > f.max {
			return Errorf(ETOOLARGE, "%s: %d bytes, over the limit of %d", f.name, len(f.value), f.max)
		}
	}
	if strings.TrimSpace(n.Text) == "" {
		return Errorf(EINVALID, "text: required")
	}
	for _, c := range n.Link {
		if unicode.IsControl(c) {
			return Errorf(EINVALID, "link: has a control character; a link is one line of text")
		}
	}
	return nil
}

// EmbeddingText is the text of a note that its embedding is computed from.
func (n *Note) EmbeddingText() string {
	if n.Title == "" {
		return n.Text
	}
	return n.Title + "\n\n" + n.Text
}

// SearchMode chooses how notes are matched.
type SearchMode string

// The search modes: by meaning (vector similarity), by words of the title (BM25), or
// both fused by reciprocal rank.
const (
	SearchSemantic SearchMode = "semantic"
	SearchTitle    SearchMode = "title"
	SearchHybrid   SearchMode = "hybrid"
)

// NoteSearch is a query for notes.
type NoteSearch struct {
	Query string     `json:"query"`
	Mode  SearchMode `json:"mode"`
	K     int        `json:"k"`
}

// Validate fills in the defaults (mode hybrid, k 5) and checks the rules of a search.
func (q *NoteSearch) Validate() error {
	if q.Mode == "" {
		q.Mode = SearchHybrid
	}
	if q.K == 0 {
		q.K = DefaultSearchK
	}
	switch {
	case !utf8.ValidString(q.Query):
		return Errorf(EINVALID, "query: not valid UTF-8")
	case strings.TrimSpace(q.Query) == "":
		return Errorf(EINVALID, "query: required")
	case len(q.Query) > MaxQueryBytes:
		return Errorf(ETOOLARGE, "query: %d bytes, over the limit of %d", len(q.Query), MaxQueryBytes)
	case q.Mode != SearchSemantic && q.Mode != SearchTitle && q.Mode != SearchHybrid:
		return Errorf(EINVALID, "mode: %q is not \"semantic\", \"title\" or \"hybrid\"", q.Mode)
	case q.K < 1 || q.K > MaxSearchK:
		return Errorf(EINVALID, "k: must be from 1 to %d, got %d", MaxSearchK, q.K)
	}
	return nil
}

// NoteHit is a note found by a search, with its score (higher is better; the scale
// depends on the mode).
type NoteHit struct {
	Note
	Score float64 `json:"score"`
}

// EmbeddingSpace identifies the vectors an embedder makes: vectors of different
// spaces must never be compared, so a store records the space it was built in.
type EmbeddingSpace struct {
	Model      string `json:"model"` // such as "local:hash-v1" or "bedrock:amazon.titan-embed-text-v2:0"
	Dimensions int    `json:"dimensions"`
}

// String returns "model/dimensions".
func (s EmbeddingSpace) String() string {
	return s.Model + "/" + strconv.Itoa(s.Dimensions)
}

// Embedder turns texts into vectors.
//
// Embed returns one vector per text, in order, each of Space().Dimensions floats and of
// unit length, so that a dot product is the cosine similarity.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Space() EmbeddingSpace
}

// NoteStore keeps notes with their vectors and searches them.
//
// PutNotes stores notes (with IDs set) and one vector each, replacing notes of the same
// ID; when it returns nil the notes are durable. GetNote and DeleteNote return an
// ENOTFOUND error for an unknown ID. ListNotes returns notes newest first, up to limit,
// and the cursor of the next page ("" at the end). SearchNotes answers q, with vector
// the query's embedding (nil for SearchTitle).
type NoteStore interface {
	PutNotes(ctx context.Context, notes []Note, vectors [][]float32) error
	GetNote(ctx context.Context, id string) (*Note, error)
	DeleteNote(ctx context.Context, id string) error
	ListNotes(ctx context.Context, limit int, cursor string) ([]Note, string, error)
	SearchNotes(ctx context.Context, q NoteSearch, vector []float32) ([]NoteHit, error)
	Close() error
}

// NoteService adds and searches notes: it validates, embeds and stores them.
type NoteService struct {
	Store    NoteStore
	Embedder Embedder
}

// Add validates notes, gives each a new ID and a creation time, embeds them and stores
// them. Either all are stored or none; the error names the first bad note.
func (s *NoteService) Add(ctx context.Context, notes []Note) ([]Note, error) {
	if err := checkBatch(notes, false); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	out := make([]Note, len(notes))
	for i, n := range notes {
		n.ID, n.CreatedAt = NewID(now), now
		out[i] = n
	}
	if err := s.put(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Import stores notes that carry their own stable IDs (given, or ContentID), each
// with a creation time, skipping every note whose ID the store has already or that
// repeats one before it: an import run again after it was interrupted stores only what
// is missing. Only the new notes are embedded. It returns the notes stored and the
// number skipped; either all new notes are stored or none, and the error names the
// first bad note. Each ID is looked up with GetNote.
func (s *NoteService) Import(ctx context.Context, notes []Note) ([]Note, int, error) {
	if err := checkBatch(notes, true); err != nil {
		return nil, 0, err
	}
	now := time.Now().UTC()
	seen := make(map[string]bool, len(notes))
	var out []Note
	for _, n := range notes {
		if seen[n.ID] {
			continue
		}
		seen[n.ID] = true
		switch _, err := s.Store.GetNote(ctx, n.ID); {
		case err == nil:
			continue
		case ErrorCode(err) != ENOTFOUND:
			return nil, 0, err
		}
		n.CreatedAt = now
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, len(notes), nil
	}
	if err := s.put(ctx, out); err != nil {
		return nil, 0, err
	}
	return out, len(notes) - len(out), nil
}

// checkBatch checks the size of a batch of notes and each note, with its ID when
// withIDs; the error names the first bad note.
func checkBatch(notes []Note, withIDs bool) error {
	if len(notes) == 0 {
		return Errorf(EINVALID, "notes: at least one note is required")
	}
	if len(notes) > MaxBulkNotes {
		return Errorf(ETOOLARGE, "notes: %d notes, at most %d per request", len(notes), MaxBulkNotes)
	}
	for i, n := range notes {
		err := n.Validate()
		if err == nil && withIDs {
			err = ValidateNoteID(n.ID)
		}
		if err != nil {
			if len(notes) > 1 {
				e := err.(*Error)
				return &Error{Code: e.Code, Message: "notes[" + strconv.Itoa(i) + "]." + e.Message}
			}
			return err
		}
	}
	return nil
}

// put embeds notes and stores them.
func (s *NoteService) put(ctx context.Context, notes []Note) error {
	texts := make([]string, len(notes))
	for i := range notes {
		texts[i] = notes[i].EmbeddingText()
	}
	vectors, err := s.Embedder.Embed(ctx, texts)
	if err != nil {
		return err
	}
	return s.Store.PutNotes(ctx, notes, vectors)
}

// Search validates q, embeds its query when the mode needs it, and searches.
func (s *NoteService) Search(ctx context.Context, q NoteSearch) ([]NoteHit, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	var vector []float32
	if q.Mode != SearchTitle {
		vs, err := s.Embedder.Embed(ctx, []string{q.Query})
		if err != nil {
			return nil, err
		}
		vector = vs[0]
	}
	return s.Store.SearchNotes(ctx, q, vector)
}

// NewID returns a new unique ID that sorts by its time: 12 hex digits of milliseconds
// since 1970, then 16 random hex digits.
func NewID(t time.Time) string {
	var b [14]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	rand.Read(b[6:])
	return hex.EncodeToString(b[:])
}
