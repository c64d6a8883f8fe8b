package rag

import (
	"bytes"
	"context"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"genai"
)

// parseMarkdown reads CommonMark (with GFM tables) through goldmark: headings give the
// heading path, the text of paragraphs, lists, quotes, tables and code blocks is kept,
// link targets and markup are dropped. YAML front matter is skipped, its title kept.
//
// goldmark takes no context, so ctx reaches into it three ways: through the reader of
// its block phase (checked as lines advance), an inline parser of no trigger whose
// CloseBlock runs after each block's inline phase, and the walk of the tree here. When
// ctx has ended, the first two panic with markdownStop, recovered below.
func parseMarkdown(ctx context.Context, name string, data []byte, limits ParseLimits) (p *Parsed, err error) {
	if data, err = decodeUTF16(name, data); err != nil {
		return nil, err
	}
	if len(data) > limits.MaxTextBytes {
		return nil, parseTooMuchText(name, limits)
	}
	if why := checkText(data); why != "" {
		return nil, genai.Errorf(genai.EINVALID, "%s: not a Markdown file: %s", name, why)
	}
	src := []byte(normalizeNewlines(string(bytes.TrimPrefix(data, []byte("\ufeff")))))
	p = &Parsed{}
	p.Title, src = markdownFrontMatter(src)
	src = markdownFlattenNesting(src)

	defer func() {
		if r := recover(); r != nil {
			if r != (markdownStop{}) {
				panic(r)
			}
			p, err = nil, parseStopped(ctx, name)
		}
	}()
	check := &stopCheck{ctx: ctx}
	md := goldmark.New(goldmark.WithExtensions(extension.Table),
		goldmark.WithParserOptions(parser.WithInlineParsers(util.Prioritized(markdownStopper{check}, 0))))
	doc := md.Parser().Parse(markdownReader{text.NewReader(src), check})
	if ctx.Err() != nil {
		return nil, parseStopped(ctx, name)
	}
	b := &sectionBuilder{max: limits.MaxTextBytes}
	over, stopped := false, false
	markdownWalk(doc, func(n ast.Node) bool {
		if over || stopped {
			return false
		}
		if stopped = check.stopped(); stopped {
			return false
		}
		switch n := n.(type) {
		case *ast.Heading:
			t := markdownInline(n, src)
			if n.Level == 1 && p.Title == "" {
				p.Title = t
			}
			b.heading(n.Level, t)
		case *ast.Paragraph, *ast.TextBlock:
			over = !b.paragraph(markdownInline(n, src))
		case *ast.FencedCodeBlock, *ast.CodeBlock:
			over = !b.paragraph(markdownLines(n, src))
		case *ast.HTMLBlock:
			over = !b.paragraph(htmlFragmentText(ctx, markdownLines(n, src)))
		case *east.Table:
			var rows []string
			for row := n.FirstChild(); row != nil; row = row.NextSibling() {
				var cells []string
				for cell := row.FirstChild(); cell != nil; cell = cell.NextSibling() {
					cells = append(cells, markdownInline(cell, src))
				}
				rows = append(rows, strings.Join(cells, " | "))
			}
			over = !b.paragraph(strings.Join(rows, "\n"))
		default:
			return true // a container: document, list, list item, block quote
		}
		return false
	})
	if stopped {
		return nil, parseStopped(ctx, name)
	}
	if over {
		return nil, parseTooMuchText(name, limits)
	}
	p.Sections = b.result()
	return p, nil
}

// markdownStop is the panic that stops goldmark when the parse's context has ended.
type markdownStop struct{}

// markdownReader is goldmark's source reader, checking the context as lines advance.
type markdownReader struct {
	text.Reader
	check *stopCheck
}

func (r markdownReader) AdvanceLine() {
	if r.check.stopped() {
		panic(markdownStop{})
	}
	r.Reader.AdvanceLine()
}

// markdownStopper is an inline parser that parses nothing: goldmark calls its
// CloseBlock after the inline phase of each block, where it checks the context.
type markdownStopper struct{ check *stopCheck }

func (markdownStopper) Trigger() []byte { return nil }

func (markdownStopper) Parse(ast.Node, text.Reader, parser.Context) ast.Node { return nil }

func (s markdownStopper) CloseBlock(ast.Node, text.Reader, parser.Context) {
	if s.check.stopped() {
		panic(markdownStop{})
	}
}

// markdownWalk visits root and its descendants in document order, descending into a
// node's children when visit returns true. It loops rather than recurses, so deeply
// nested quotes or lists cannot exhaust the stack.
func markdownWalk(root ast.Node, visit func(ast.Node) bool) {
	n := root
	for {
		if visit(n) && n.FirstChild() != nil {
			n = n.FirstChild()
			continue
		}
		for n != root && n.NextSibling() == nil {
			n = n.Parent()
		}
		if n == root {
			return
		}
		n = n.NextSibling()
	}
}

// markdownInline returns the plain text of a block's inline content.
func markdownInline(block ast.Node, src []byte) string {
	var sb strings.Builder
	markdownWalk(block, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Text:
			sb.Write(n.Segment.Value(src))
			switch {
			case n.HardLineBreak():
				sb.WriteByte('\n')
			case n.SoftLineBreak():
				sb.WriteByte(' ')
			}
		case *ast.String:
			sb.Write(n.Value)
		case *ast.AutoLink:
			sb.Write(n.Label(src))
		case *ast.RawHTML:
			// inline tags: markup, not text
		default:
			return true
		}
		return false
	})
	return strings.TrimSpace(sb.String())
}

// markdownLines returns the raw lines of a code or HTML block.
func markdownLines(n ast.Node, src []byte) string {
	var sb strings.Builder
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		sb.Write(seg.Value(src))
	}
	return strings.TrimRight(sb.String(), "\n")
}

// markdownFrontMatter splits YAML front matter ("---" lines around it, at the very
// start) from src and returns its title: field, if any.
func markdownFrontMatter(src []byte) (title string, rest []byte) {
	if !bytes.HasPrefix(src, []byte("---\n")) {
		return "", src
	}
	body := src[4:]
	end := -1
	for _, closing := range []string{"\n---\n", "\n...\n"} {
		if i := bytes.Index(body, []byte(closing)); i >= 0 && (end < 0 || i < end) {
			end = i
		}
	}
	if end < 0 {
		return "", src
	}
	for _, line := range strings.Split(string(body[:end]), "\n") {
		if v, ok := strings.CutPrefix(line, "title:"); ok {
			title = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return title, body[end+5:]
}

// markdownMaxNesting is how many block quote and list markers a line may open.
const markdownMaxNesting = 32

// markdownFlattenNesting drops the block quote and list markers of a line past the
// first markdownMaxNesting: goldmark's time grows with the square of the nesting a
// line opens (100,000 ">" take seconds), and nobody nests 32 deep to be read.
func markdownFlattenNesting(src []byte) []byte {
	var out []byte // nil until a line needs flattening
	lineStart := 0
	for lineStart < len(src) {
		lineEnd := bytes.IndexByte(src[lineStart:], '\n') + lineStart + 1
		if lineEnd == lineStart {
			lineEnd = len(src)
		}
		line := src[lineStart:lineEnd]
		markers, keep, i := 0, 0, 0
	scan:
		for i < len(line) {
			switch c := line[i]; {
			case c == ' ' || c == '\t':
				i++
				continue
			case c == '>':
				i++
			case (c == '-' || c == '*' || c == '+') && i+1 < len(line) && (line[i+1] == ' ' || line[i+1] == '\t'):
				i++
			case c >= '0' && c <= '9':
				j := i
				for j < len(line) && j-i < 9 && line[j] >= '0' && line[j] <= '9' {
					j++
				}
				if j+1 < len(line) && (line[j] == '.' || line[j] == ')') && (line[j+1] == ' ' || line[j+1] == '\t') {
					i = j + 1
				} else {
					break scan
				}
			default:
				break scan
			}
			if markers++; markers == markdownMaxNesting {
				keep = i
			}
		}
		if markers > markdownMaxNesting {
			if out == nil {
				out = append(make([]byte, 0, len(src)), src[:lineStart]...)
			}
			out = append(out, line[:keep]...)
			out = append(out, ' ')
			out = append(out, line[i:]...)
		} else if out != nil {
			out = append(out, line...)
		}
		lineStart = lineEnd
	}
	if out == nil {
		return src
	}
	return out
}
