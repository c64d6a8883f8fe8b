package server

import (
	"net/http"
	"strconv"

	"genai"
)

// noNotesMessage explains a server wired without a note store, as in some tests.
const noNotesMessage = "the notes store is not configured on this server"

// notes returns the note service, or answers 503 when there is none.
func (s *Server) notes(w http.ResponseWriter, r *http.Request) *genai.NoteService {
	if s.opts.Notes == nil {
		s.writeError(w, r, genai.Errorf(genai.EUNAVAILABLE, noNotesMessage))
		return nil
	}
	return s.opts.Notes
}

// decode reads a JSON body into v.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if err := genai.DecodeJSON(data, v); err != nil {
		return err
	}
	// A field the route does not take is refused by name, never dropped.
	return genai.RefuseUnknown(data, "", v)
}

// noteInput is a note as a client sends it; the server sets id and created_at.
type noteInput struct {
	Title string `json:"title"`
	Link  string `json:"link"`
	Text  string `json:"text"`
}

func (n noteInput) note() genai.Note { return genai.Note{Title: n.Title, Link: n.Link, Text: n.Text} }

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	if n := s.addNote(w, r); n != nil {
		w.Header().Set("Location", "/api/notes/"+n.ID)
		writeJSON(w, http.StatusCreated, n)
	}
}

// addNote decodes one note from the body and adds it; on failure it has answered the
// error and returns nil.
func (s *Server) addNote(w http.ResponseWriter, r *http.Request) *genai.Note {
	svc := s.notes(w, r)
	if svc == nil {
		return nil
	}
	var in noteInput
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return nil
	}
	added, err := svc.Add(r.Context(), []genai.Note{in.note()})
	if err != nil {
		s.writeError(w, r, err)
		return nil
	}
	return &added[0]
}

func (s *Server) bulkNotes(w http.ResponseWriter, r *http.Request) {
	svc := s.notes(w, r)
	if svc == nil {
		return
	}
	var in struct {
		Notes []noteInput `json:"notes"`
	}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	notes := make([]genai.Note, len(in.Notes))
	for i, n := range in.Notes {
		notes[i] = n.note()
	}
	added, err := svc.Add(r.Context(), notes)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ids := make([]string, len(added))
	for i, n := range added {
		ids[i] = n.ID
	}
	writeJSON(w, http.StatusCreated, map[string][]string{"ids": ids})
}

// Page sizes of GET /api/notes.
const (
	defaultNotesLimit = 20
	maxNotesLimit     = 100
)

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	svc := s.notes(w, r)
	if svc == nil {
		return
	}
	limit := defaultNotesLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxNotesLimit {
			s.writeError(w, r, genai.Errorf(genai.EINVALID, "limit: must be a whole number from 1 to %d, got %q", maxNotesLimit, v))
			return
		}
		limit = n
	}
	notes, next, err := svc.Store.ListNotes(r.Context(), limit, r.URL.Query().Get("cursor"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if notes == nil {
		notes = []genai.Note{}
	}
	writeJSON(w, http.StatusOK, struct {
		Notes      []genai.Note `json:"notes"`
		NextCursor string       `json:"next_cursor"`
	}{notes, next})
}

func (s *Server) getNote(w http.ResponseWriter, r *http.Request) {
	svc := s.notes(w, r)
	if svc == nil {
		return
	}
	n, err := svc.Store.GetNote(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, n)
}

func (s *Server) deleteNote(w http.ResponseWriter, r *http.Request) {
	svc := s.notes(w, r)
	if svc == nil {
		return
	}
	if err := svc.Store.DeleteNote(r.Context(), r.PathValue("id")); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// searchInput is the body of a search; K is a pointer so that an explicit 0 is refused
// rather than taken for "the default".
type searchInput struct {
	Query string           `json:"query"`
	Mode  genai.SearchMode `json:"mode"`
	K     *int             `json:"k"`
}

func (s *Server) parseSearch(w http.ResponseWriter, r *http.Request) (genai.NoteSearch, error) {
	var in searchInput
	if err := s.decode(w, r, &in); err != nil {
		return genai.NoteSearch{}, err
	}
	q := genai.NoteSearch{Query: in.Query, Mode: in.Mode}
	if in.K != nil {
		if *in.K == 0 {
			return q, genai.Errorf(genai.EINVALID, "k: must be from 1 to %d, got 0", genai.MaxSearchK)
		}
		q.K = *in.K
	}
	return q, nil
}

func (s *Server) searchNotes(w http.ResponseWriter, r *http.Request) {
	svc := s.notes(w, r)
	if svc == nil {
		return
	}
	q, err := s.parseSearch(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	hits, err := svc.Search(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hits == nil {
		hits = []genai.NoteHit{}
	}
	writeJSON(w, http.StatusOK, map[string][]genai.NoteHit{"hits": hits})
}

// aossIndex serves the workshop's /aoss-index-backend: index one note, answer
// {"Result": {"_id", "result"}} as the workshop's OpenSearch call did.
func (s *Server) aossIndex(w http.ResponseWriter, r *http.Request) {
	if n := s.addNote(w, r); n != nil {
		writeJSON(w, http.StatusOK, map[string]any{"Result": map[string]string{"_id": n.ID, "result": "created"}})
	}
}

// aossQuery serves the workshop's /aoss-query-backend: notes found by title.
func (s *Server) aossQuery(w http.ResponseWriter, r *http.Request) {
	svc := s.notes(w, r)
	if svc == nil {
		return
	}
	q, err := s.parseSearch(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if q.Mode == "" {
		q.Mode = genai.SearchTitle
	}
	hits, err := svc.Search(r.Context(), q)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if hits == nil {
		hits = []genai.NoteHit{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"Result": hits})
}
