package rag

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"genai"
)

// parseHTML reads the text of an HTML page with the streaming tokenizer of
// golang.org/x/net/html rather than its parser: the parser builds a tree (and some
// callers walk it recursively), which a page nested 100,000 levels deep turns into a
// stack or memory problem; the tokenizer keeps no tree, only a few counters. Scripts,
// styles, <noscript>, <template>, <svg> and the like are dropped; <h1>–<h6> give the
// heading path, <title> the title; block elements end paragraphs. A page in another
// encoding is decoded first (see decodeHTML); bytes that are still not UTF-8 are
// replaced with U+FFFD.
func parseHTML(ctx context.Context, name string, data []byte, limits ParseLimits) (*Parsed, error) {
	data, err := decodeHTML(name, data)
	if err != nil {
		return nil, err
	}
	if bytes.IndexByte(data[:min(len(data), 1024)], 0) >= 0 || bytes.Count(data, []byte{0}) > len(data)/1000 {
		return nil, genai.Errorf(genai.EINVALID, "%s: not an HTML file: it contains NUL bytes (binary data)", name)
	}
	p := &Parsed{}
	b := &sectionBuilder{max: limits.MaxTextBytes}
	var (
		para      strings.Builder // the paragraph being read
		heading   strings.Builder
		title     strings.Builder
		inHeading int // level of the open <hN>, 0 when none
		inTitle   bool
		skip      int // depth inside elements whose content is not text
		pre       int // depth inside <pre>
	)
	endParagraph := func() bool {
		s := para.String()
		para.Reset()
		return b.paragraph(s)
	}
	z := html.NewTokenizer(bytes.NewReader(data))
	check := stopCheck{ctx: ctx}
	for {
		if check.stopped() {
			return nil, parseStopped(ctx, name)
		}
		tt := z.Next()
		if tt == html.ErrorToken {
			if err := z.Err(); !errors.Is(err, io.EOF) {
				return nil, genai.Errorf(genai.EINVALID, "%s: reading HTML: %v", name, err)
			}
			break
		}
		switch tt {
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := strings.ToValidUTF8(string(z.Text()), "\uFFFD")
			switch {
			case inTitle:
				title.WriteString(t)
			case inHeading > 0:
				heading.WriteString(t)
			case pre > 0:
				para.WriteString(t)
			default:
				// HTML white space collapses; keep one space where there was some.
				if f := strings.Fields(t); len(f) > 0 {
					if t[0] == ' ' || t[0] == '\n' || t[0] == '\t' || t[0] == '\r' {
						htmlSpace(&para)
					}
					para.WriteString(strings.Join(f, " "))
					if last := t[len(t)-1]; last == ' ' || last == '\n' || last == '\t' || last == '\r' {
						para.WriteByte(' ')
					}
				} else if t != "" {
					htmlSpace(&para)
				}
			}
			if para.Len() > limits.MaxTextBytes || heading.Len() > limits.MaxTextBytes || title.Len() > limits.MaxTextBytes {
				return nil, parseTooMuchText(name, limits)
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			tn, _ := z.TagName()
			a := atom.Lookup(tn)
			start := tt != html.EndTagToken
			if htmlSkipped[a] {
				// Raw-text elements (script, style…) come as one text token the
				// tokenizer already isolates; the others need counting.
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
				continue
			}
			if skip > 0 {
				continue
			}
			switch a {
			case atom.Title:
				inTitle = tt == html.StartTagToken
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				level := int(tn[1] - '0')
				if start {
					if !endParagraph() {
						return nil, parseTooMuchText(name, limits)
					}
					inHeading = level
					heading.Reset()
				} else if inHeading > 0 {
					b.heading(inHeading, heading.String())
					inHeading = 0
				}
			case atom.Pre:
				if !endParagraph() {
					return nil, parseTooMuchText(name, limits)
				}
				if tt == html.StartTagToken {
					pre++
				} else if tt == html.EndTagToken && pre > 0 {
					pre--
				}
			case atom.Br:
				if inHeading > 0 {
					heading.WriteByte(' ')
				} else {
					para.WriteByte('\n')
				}
			case atom.Td, atom.Th:
				htmlSpace(&para)
			default:
				if htmlBlock[a] && inHeading == 0 {
					if !endParagraph() {
						return nil, parseTooMuchText(name, limits)
					}
				}
			}
		}
	}
	if inHeading > 0 { // an unclosed heading at the end
		b.heading(inHeading, heading.String())
	}
	if !endParagraph() {
		return nil, parseTooMuchText(name, limits)
	}
	p.Title = title.String()
	p.Sections = b.result()
	return p, nil
}

// htmlSpace writes a space unless the paragraph is empty or already ends in one.
func htmlSpace(sb *strings.Builder) {
	if s := sb.String(); s != "" && !strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\n") {
		sb.WriteByte(' ')
	}
}

// htmlFragmentText returns the text of an HTML fragment (such as a Markdown HTML
// block), paragraphs separated by blank lines and headings kept as paragraphs.
func htmlFragmentText(ctx context.Context, fragment string) string {
	p, err := parseHTML(ctx, "", []byte(fragment), ParseLimits{}.withDefaults())
	if err != nil {
		return ""
	}
	var parts []string
	for _, s := range p.Sections {
		if len(s.Headings) > 0 {
			parts = append(parts, s.Headings[len(s.Headings)-1])
		}
		parts = append(parts, s.Text)
	}
	return strings.Join(parts, "\n\n")
}

// htmlSkipped are the elements whose content is not text for a reader.
var htmlSkipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Math: true, atom.Iframe: true, atom.Object: true,
	atom.Canvas: true, atom.Select: true, atom.Textarea: true,
}

// htmlBlock are the elements that start or end a paragraph.
var htmlBlock = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Li: true, atom.Ul: true, atom.Ol: true,
	atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Tr: true, atom.Table: true,
	atom.Section: true, atom.Article: true, atom.Aside: true, atom.Header: true,
	atom.Footer: true, atom.Main: true, atom.Nav: true, atom.Blockquote: true,
	atom.Figure: true, atom.Figcaption: true, atom.Hr: true, atom.Form: true,
	atom.Fieldset: true, atom.Details: true, atom.Summary: true, atom.Caption: true,
	atom.Address: true, atom.Body: true, atom.Html: true, atom.Thead: true,
	atom.Tbody: true, atom.Tfoot: true,
}
