package localembed

import (
	"unicode"
	"unicode/utf8"

	"github.com/kljensen/snowball/english"
)

// maxTokenBytes bounds a token: longer runs of letters (base64, DNA sequences, URLs
// without separators) carry no meaning a bag of words can use, and the stemmer's cost
// grows with length.
const maxTokenBytes = 40

// tokens calls fn with each word of text, lowercased: maximal runs of letters and digits
// in any script, with apostrophes inside a word dropped ("cell's" → "cells" → stem
// "cell"). Everything else separates words. buf is scratch space, returned for reuse.
func tokens(text string, buf []byte, fn func(word []byte)) []byte {
	word := buf[:0]
	flush := func() {
		if len(word) > 0 && len(word) <= maxTokenBytes {
			fn(word)
		}
		word = word[:0]
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				word = append(word, c)
			case 'A' <= c && c <= 'Z':
				word = append(word, c+'a'-'A')
			case c == '\'' && len(word) > 0:
				// Inside a word; a quote opening a word is a separator.
			default:
				flush()
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case r == '’' && len(word) > 0:
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			word = utf8.AppendRune(word, unicode.ToLower(r))
		default:
			flush()
		}
	}
	flush()
	return word
}

// isStopWord reports whether w is one of the Snowball English stop words ("the", "of",
// "which"…), which say little about what a text is about.
func isStopWord(w string) bool { return english.IsStopWord(w) }

// stem returns the Snowball (Porter2) English stem of a lowercase word, so that "cells",
// "cellular" and "cell" meet. Words that are not plain ASCII letters — numbers, other
// scripts, chemical names with digits — are returned unchanged: the English rules would
// only mangle them.
func stem(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i]; c < 'a' || c > 'z' {
			return w
		}
	}
	return english.Stem(w, false)
}
