package rag

import (
	"bytes"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"

	"genai"
)

// decodeUTF16 returns data as UTF-8 when it is UTF-16 text, known by its byte order
// mark or, without one, by NUL bytes in every other position as ASCII makes them
// (Windows tools write both); other data is returned as it is. Text in other
// encodings is refused later as not UTF-8: a plain-text file does not say which
// 8-bit encoding it is in, and a guess would index mojibake.
func decodeUTF16(name string, data []byte) ([]byte, error) {
	var enc encoding.Encoding
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		enc = unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		enc = unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM)
	default:
		if e, ok := utf16WithoutBOM(data); ok {
			enc = unicode.UTF16(e, unicode.IgnoreBOM)
		}
	}
	if enc == nil {
		return data, nil
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: unreadable UTF-16 text: %v", name, err)
	}
	return out, nil
}

// utf16WithoutBOM reports whether the first KiB of data looks like UTF-16 text of
// mostly ASCII characters, and its byte order: at least 90% of its even (big-endian)
// or odd (little-endian) bytes NUL, and almost none of the others.
func utf16WithoutBOM(data []byte) (unicode.Endianness, bool) {
	head := data[:min(len(data), 1024)&^1]
	if len(head) < 8 {
		return unicode.LittleEndian, false
	}
	var even, odd int
	for i := 0; i < len(head); i += 2 {
		if head[i] == 0 {
			even++
		}
		if head[i+1] == 0 {
			odd++
		}
	}
	pairs := len(head) / 2
	switch {
	case odd*10 >= pairs*9 && even*50 <= pairs:
		return unicode.LittleEndian, true
	case even*10 >= pairs*9 && odd*50 <= pairs:
		return unicode.BigEndian, true
	}
	return unicode.LittleEndian, false
}

// decodeHTML returns an HTML page as UTF-8, decoded from the encoding its byte order
// mark or its <meta charset> / <meta http-equiv="Content-Type"> declares, as a browser
// would (golang.org/x/net/html/charset implements the WHATWG algorithm); a page that
// declares nothing and is not valid UTF-8 is read as windows-1252, as browsers do.
func decodeHTML(name string, data []byte) ([]byte, error) {
	enc, encName, _ := charset.DetermineEncoding(data, "")
	if encName == "utf-8" {
		return data, nil
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: unreadable text in its declared encoding %s: %v", name, encName, err)
	}
	return out, nil
}
