package rag

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"
)

// TestParseDeclaredCharsets reads HTML pages in the encodings they declare, and
// UTF-16 text with and without a byte order mark, as the characters they hold.
func TestParseDeclaredCharsets(t *testing.T) {
	latin1, _ := charmap.ISO8859_1.NewEncoder().String(`<html><head><meta charset="iso-8859-1"><title>Café crème</title></head><body><h1>Menu</h1><p>Crème brûlée, façon grand-mère.</p></body></html>`)
	win1252, _ := charmap.Windows1252.NewEncoder().String(`<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head><body><p>“Quoted” – naïve</p></body></html>`)
	sjis, _ := japanese.ShiftJIS.NewEncoder().String(`<html><head><meta charset="shift_jis"></head><body><p>日本語のテキスト</p></body></html>`)
	utf16le, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String("<html><body><p>Grüße aus Köln</p></body></html>")
	textLE, _ := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String("Notes from Windows Notepad\r\nZürich and Genève.\r\n")
	textBE, _ := unicode.UTF16(unicode.BigEndian, unicode.UseBOM).NewEncoder().String("Big-endian text: ½ price.")
	textNoBOM, _ := unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewEncoder().String("Exported without a byte order mark, still readable text.")
	for _, tt := range []struct {
		name, data, want, title string
	}{
		{"latin1.html", latin1, "Crème brûlée, façon grand-mère.", "Café crème"},
		{"cp1252.html", win1252, "“Quoted” – naïve", ""},
		{"sjis.html", sjis, "日本語のテキスト", ""},
		{"utf16.html", utf16le, "Grüße aus Köln", ""},
		{"notepad.txt", textLE, "Notes from Windows Notepad\nZürich and Genève.", ""},
		{"be.md", textBE, "Big-endian text: ½ price.", ""},
		{"nobom.txt", textNoBOM, "Exported without a byte order mark, still readable text.", ""},
		{"noextension", textLE, "Zürich and Genève.", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(context.Background(), tt.name, []byte(tt.data), ParseLimits{})
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			for _, s := range p.Sections {
				text.WriteString(s.Text)
			}
			if !strings.Contains(text.String(), tt.want) || strings.ContainsRune(text.String(), '\uFFFD') || strings.ContainsRune(text.String(), 0) {
				t.Errorf("text %q, want it to hold %q", text.String(), tt.want)
			}
			if p.Title != tt.title {
				t.Errorf("title %q, want %q", p.Title, tt.title)
			}
		})
	}
}
