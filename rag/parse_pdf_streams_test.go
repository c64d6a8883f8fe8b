package rag

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/ascii85"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"strings"
	"testing"
	"time"

	"genai"
)

// bombSize is what the bombs of these tests decode to: over DefaultMaxStreamBytes,
// under DefaultMaxInflatedBytes (which the pages' content is also checked against), so
// only the per-stream check can refuse them.
const bombSize = 96 << 20

// zlibOf compresses what write writes.
func zlibOf(write func(w *zlib.Writer)) []byte {
	var buf bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&buf, zlib.BestSpeed)
	write(zw)
	zw.Close()
	return buf.Bytes()
}

func zlibZeros(n int) []byte {
	return zlibOf(func(w *zlib.Writer) {
		zeros := make([]byte, 1<<20)
		for ; n > 0; n -= len(zeros) {
			w.Write(zeros[:min(n, len(zeros))])
		}
	})
}

// flateThenA85Bomb is the body of a [/FlateDecode /ASCII85Decode] stream decoding to n
// zero bytes: zlib of the ASCII85 text "zzz…~>" (each z is four zero bytes).
func flateThenA85Bomb(n int) []byte {
	return zlibOf(func(w *zlib.Writer) {
		zs := bytes.Repeat([]byte("z"), 1<<20)
		for left := n / 4; left > 0; left -= len(zs) {
			w.Write(zs[:min(left, len(zs))])
		}
		w.Write([]byte("~>"))
	})
}

// a85ThenFlateBomb is the body of an [/ASCII85Decode /FlateDecode] stream decoding to
// n zero bytes, its lines broken by "|", which the library's ASCII85 reader skips (and
// Go's ascii85 decoder refuses).
func a85ThenFlateBomb(n int) []byte {
	z := zlibZeros(n)
	text := make([]byte, ascii85.MaxEncodedLen(len(z)))
	text = text[:ascii85.Encode(text, z)]
	var out bytes.Buffer
	for len(text) > 0 {
		k := min(64, len(text))
		out.Write(text[:k])
		out.WriteString("\n|")
		text = text[k:]
	}
	out.WriteString("~>")
	return out.Bytes()
}

// zlibWithEndstream is a zlib stream that decodes to a short text holding the bytes
// "endstream", stored as they are, then n zero bytes.
func zlibWithEndstream(n int) []byte {
	text := []byte("BT (endstream) Tj ET\nendstream\nendobj\n")
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestSpeed)
	zeros := make([]byte, 1<<20)
	sum := adler32.New()
	sum.Write(text)
	for left := n; left > 0; left -= len(zeros) {
		fw.Write(zeros[:min(left, len(zeros))])
		sum.Write(zeros[:min(left, len(zeros))])
	}
	fw.Close()
	var out bytes.Buffer
	out.Write([]byte{0x78, 0x01})
	// A stored, non-final deflate block, then the compressed blocks.
	out.WriteByte(0)
	binary.Write(&out, binary.LittleEndian, uint16(len(text)))
	binary.Write(&out, binary.LittleEndian, ^uint16(len(text)))
	out.Write(text)
	out.Write(raw.Bytes())
	binary.Write(&out, binary.BigEndian, sum.Sum32())
	return out.Bytes()
}

// pdfIndirectLength makes a one-page PDF whose content stream has its /Length in
// another object.
func pdfIndirectLength(filter string, body []byte) []byte {
	b := newPDFBuilder()
	font := b.obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	length := b.reserve() + 1
	content := b.obj(fmt.Sprintf("<< /Length %d 0 R %s >>\nstream\n%s\nendstream", length, filter, body))
	b.obj(fmt.Sprint(len(body)))
	pages := b.reserve() + 1
	page := b.obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>", pages, font, content))
	b.obj(fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page))
	root := b.obj(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pages))
	return b.finish(root, "")
}

func TestParsePDFFilterChainBombs(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"[/FlateDecode /ASCII85Decode]", pdfWithPages([][]byte{flateThenA85Bomb(bombSize)}, "/Filter [/FlateDecode /ASCII85Decode]", nil)},
		{"[/ASCII85Decode /FlateDecode]", pdfWithPages([][]byte{a85ThenFlateBomb(bombSize)}, "/Filter [/ASCII85Decode /FlateDecode]", nil)},
		{"endstream inside the body", pdfWithPages([][]byte{zlibWithEndstream(bombSize)}, "/Filter /FlateDecode", nil)},
		{"endstream inside the body, indirect /Length", pdfIndirectLength("/Filter /FlateDecode", zlibWithEndstream(bombSize))},
		{"[/FlateDecode /ASCII85Decode], indirect /Length", pdfIndirectLength("/Filter [/FlateDecode /ASCII85Decode]", flateThenA85Bomb(bombSize))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			peak, elapsed := measurePeak(func() {
				_, err = Parse(context.Background(), "bomb.pdf", tt.data, ParseLimits{})
			})
			t.Logf("%d-byte PDF: peak heap in use %.1f MiB over the input, %v", len(tt.data), float64(peak)/(1<<20), elapsed.Round(time.Millisecond))
			checkFileError(t, err, "bomb.pdf", genai.ETOOLARGE, "decompression bomb")
			if !strings.Contains(err.Error(), fmt.Sprint(DefaultMaxStreamBytes)) {
				t.Errorf("err = %v, want the per-stream limit named", err)
			}
			if peak > 16<<20 {
				t.Errorf("peak heap in use grew by %d MiB, want under 16 MiB", peak>>20)
			}
		})
	}
}

// TestParsePDFStreamsFollowLength checks that what the check decodes is what the
// library reads: streams under the limit whose bodies hold "endstream", with direct
// and indirect lengths, and ASCII85 lines broken by bytes outside its alphabet, parse.
func TestParsePDFStreamsFollowLength(t *testing.T) {
	text := zlibOf(func(w *zlib.Writer) { w.Write(pdfTextContent("The endstream keyword, in text.")) })
	var a85 bytes.Buffer
	enc := ascii85.NewEncoder(&a85)
	enc.Write(text)
	enc.Close()
	a85.WriteString("~>")
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"direct", pdfWithPages([][]byte{text}, "/Filter /FlateDecode", nil)},
		{"indirect", pdfIndirectLength("/Filter /FlateDecode", text)},
		{"ascii85 then flate", pdfWithPages([][]byte{a85.Bytes()}, "/Filter [/ASCII85Decode /FlateDecode]", nil)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(context.Background(), "ok.pdf", tt.data, ParseLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Sections) != 1 || !strings.Contains(p.Sections[0].Text, "The endstream keyword, in text.") {
				t.Fatalf("sections %+v", p.Sections)
			}
		})
	}
}

// TestPDFScanBody checks the body the check decodes: its /Length bytes, direct or
// indirect, when valid; when not, at least what the library would read.
func TestPDFScanBody(t *testing.T) {
	body := []byte("0123 endstream 6789")
	direct := pdfWithPages([][]byte{body}, "", nil)
	length := []byte(fmt.Sprintf("/Length %d", len(body)))
	with := func(l string) []byte { return bytes.Replace(direct, length, []byte(l), 1) }
	for _, tt := range []struct {
		name string
		data []byte
		want int // length of the body, -1 for to the end of the file
	}{
		{"direct", direct, len(body)},
		{"indirect", pdfIndirectLength("", body), len(body)},
		{"wrong, short", with("/Length 7"), 7},                 // as the library reads it
		{"wrong, past the end", with("/Length 999999"), -1},    // the library reads to the end
		{"missing", with("/Lengthy 1"), len("0123 ")},          // the library reads nothing
		{"unresolvable reference", with("/Length 99 0 R"), -1}, // it could be anything
	} {
		t.Run(tt.name, func(t *testing.T) {
			i := bytes.Index(tt.data, []byte("stream\n"))
			s := &pdfScan{data: tt.data, endstream: -1}
			st := s.stream(0, i, i+len("stream\n"))
			want := tt.want
			if want < 0 {
				want = len(tt.data) - i - len("stream\n")
			}
			if !st.known || len(st.body) != want {
				t.Fatalf("known %v, body %d bytes %q, want %d", st.known, len(st.body), st.body[:min(40, len(st.body))], want)
			}
		})
	}
}

// TestParsePDFStreamCheckIsLinear gives the check files made to make a naive scan
// quadratic: a million stream keywords with no end, and ASCII85 streams of no length
// whose bodies run to the end of the file. Their work is bounded by the budget (made
// small here, so that the test is quick).
func TestParsePDFStreamCheckIsLinear(t *testing.T) {
	keywords := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("stream\n"), 1<<20)...)
	var a85 bytes.Buffer
	a85.WriteString("%PDF-1.7\n")
	for a85.Len() < 8<<20 {
		a85.WriteString("1 0 obj << /Length 9 9 R /Subtype /Image /Filter /ASCII85Decode >>\nstream\n" + strings.Repeat("!", 1000) + "\n")
	}
	for _, tt := range []struct {
		name, code string
		data       []byte
	}{{"keywords", "", keywords}, {"ascii85 to the end", genai.ETOOLARGE, a85.Bytes()}} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			err := pdfCheckStreams(ctx, "x.pdf", tt.data, ParseLimits{MaxInflatedBytes: 8 << 20}.withDefaults())
			t.Logf("%d bytes: %v in %v", len(tt.data), err, time.Since(start).Round(time.Millisecond))
			if genai.ErrorCode(err) != tt.code || (err != nil && !strings.Contains(err.Error(), "bytes of work")) {
				t.Fatalf("err = %v, want code %q", err, tt.code)
			}
		})
	}
}
