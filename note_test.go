package genai

import (
	"strings"
	"testing"
)

func TestValidateNoteID(t *testing.T) {
	for _, id := range []string{"a", "given-1", "doc.v2:part_3", strings.Repeat("x", MaxNoteIDBytes)} {
		if err := ValidateNoteID(id); err != nil {
			t.Errorf("ValidateNoteID(%q) = %v, want nil", id, err)
		}
	}
	for id, want := range map[string]string{
		"":                                    "id: empty",
		"a/b":                                 `id: "a/b" has '/'`,
		"a b":                                 `id: "a b" has ' '`,
		"é":                                   `id: "é" has`,
		strings.Repeat("x", MaxNoteIDBytes+1): "id: 129 bytes, over the limit of 128",
	} {
		err := ValidateNoteID(id)
		if ErrorCode(err) != EINVALID || !strings.Contains(ErrorMessage(err), want) {
			t.Errorf("ValidateNoteID(%q) = %v, want EINVALID saying %q", id, err, want)
		}
	}
}

// A note's content ID is the same on every import and valid as an ID, and notes that
// differ in any field, or only in where one field ends, get different ones.
func TestContentID(t *testing.T) {
	n := Note{Title: "ab", Link: "https://example.com/x", Text: "c"}
	id := n.ContentID()
	if err := ValidateNoteID(id); err != nil || !strings.HasPrefix(id, "sha256-") || len(id) != len("sha256-")+32 {
		t.Fatalf("ContentID = %q (%v)", id, err)
	}
	if again := (&Note{Title: "ab", Link: "https://example.com/x", Text: "c", ID: "other"}).ContentID(); again != id {
		t.Errorf("ContentID of the same content = %q, then %q", id, again)
	}
	for _, other := range []Note{
		{Title: "a", Link: "https://example.com/x", Text: "bc"},
		{Title: "ab", Link: "https://example.com/y", Text: "c"},
		{Title: "ab", Link: "https://example.com/x", Text: "c "},
	} {
		if other.ContentID() == id {
			t.Errorf("%+v has the ContentID of %+v", other, n)
		}
	}
}
