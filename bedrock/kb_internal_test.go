package bedrock

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockagentruntime/types"
)

func part(text string, start, end int32) *types.GeneratedResponsePart {
	tp := &types.TextResponsePart{Span: &types.Span{Start: aws.Int32(start), End: aws.Int32(end)}}
	if text != "" {
		tp.Text = aws.String(text)
	}
	return &types.GeneratedResponsePart{TextResponsePart: tp}
}

func ref(uri, text string) types.RetrievedReference {
	return types.RetrievedReference{
		Content:  &types.RetrievalResultContent{Text: aws.String(text)},
		Location: &types.RetrievalResultLocation{S3Location: &types.RetrievalResultS3Location{Uri: aws.String(uri)}},
	}
}

func TestCiterSpans(t *testing.T) {
	a, b := ref("s3://b/a.txt", "A"), ref("s3://b/b.txt", "B")
	for _, tc := range []struct {
		name string
		text string
		cite func(c *citer)
		want string
	}{
		{"span only, in characters, end its last", "Héllo wörld. Next one.",
			func(c *citer) { c.cite(part("", 0, 11), []types.RetrievedReference{a}) },
			"Héllo wörld. [1] Next one."},
		{"text trusted over a wrong span", "One. Two. Three.",
			func(c *citer) { c.cite(part("Two.", 0, 2), []types.RetrievedReference{a}) },
			"One. Two. [1] Three."},
		{"no part: at the end", "Just this.",
			func(c *citer) { c.cite(nil, []types.RetrievedReference{a}) },
			"Just this. [1]"},
		{"the same source twice in one citation", "One.",
			func(c *citer) { c.cite(part("One.", 0, 3), []types.RetrievedReference{a, b, a}) },
			"One. [1][2]"},
		{"a source cited again keeps its number", "One. Two.",
			func(c *citer) {
				c.cite(part("One.", 0, 3), []types.RetrievedReference{a})
				c.cite(part("Two.", 5, 8), []types.RetrievedReference{b, a})
			},
			"One. [1] Two. [2][1]"},
		{"no references: no mark", "One.",
			func(c *citer) { c.cite(part("One.", 0, 3), nil) },
			"One."},
		{"span ending after white space", "One.\n\nTwo.",
			func(c *citer) { c.cite(part("One.\n\n", 0, 5), []types.RetrievedReference{a}) },
			"One.\n\n[1]Two."},
		{"span out of range", "Short.",
			func(c *citer) { c.cite(part("", 50, 90), []types.RetrievedReference{a}) },
			"Short. [1]"},
	} {
		c := newCiter()
		c.add(tc.text)
		tc.cite(c)
		if got := c.take(true).Text; got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// FuzzCiter checks that whatever Bedrock sends, the text comes out whole and in order,
// with marks only added, and nothing panics.
func FuzzCiter(f *testing.F) {
	f.Add("Hello world. Bye.", "world.", int32(6), int32(11), 5)
	f.Add("ünï côdé", "", int32(-1), int32(400), 0)
	f.Add("", "x", int32(0), int32(0), 3)
	f.Fuzz(func(t *testing.T, text, cited string, start, end int32, split int) {
		c := newCiter()
		split = min(max(split, 0), len(text))
		var out strings.Builder
		c.add(text[:split])
		out.WriteString(c.take(false).Text)
		c.cite(part(cited, start, end), []types.RetrievedReference{ref("s3://b/a", "A")})
		c.add(text[split:])
		out.WriteString(c.take(false).Text)
		out.WriteString(c.take(true).Text)
		got := out.String()
		for p := 0; p <= len(text); p++ {
			if got == text[:p]+" [1]"+text[p:] || got == text[:p]+"[1]"+text[p:] {
				return
			}
		}
		t.Fatalf("text %q: got %q, which is not the text with one mark inserted", text, got)
	})
}
