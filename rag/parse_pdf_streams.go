package rag

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/ascii85"
	"errors"
	"io"
	"strconv"

	"genai"
)

// This file checks a PDF's streams for decompression bombs before the PDF library
// (github.com/ledongthuc/pdf) meets them. It is written by hand because the library
// decodes streams lazily and without limits, and exposes neither its lexer nor its
// objects by number, so what it will decode has to be found in the bytes here.
//
// What the library decodes, read from its source (read.go, Value.Reader and
// applyFilter): a stream's body is the /Length bytes (resolved if an indirect
// reference) after the "stream" keyword and its end of line; /Filter is a name or an
// array of names applied in order, each FlateDecode (zlib; /DecodeParms /Predictor 12
// only, which shrinks its input) or ASCII85Decode (skipping bytes outside its alphabet,
// ending at "~"); any other filter, or another predictor, makes it panic before it
// reads a byte. Objects are only ever read as "N G obj" at the offsets of the xref, so
// this scan looks at every "stream" keyword of the file, inside other streams' bodies
// too, since an xref entry may point anywhere.

// pdfStreamWindow is how far before a "stream" keyword its object header is looked for.
const pdfStreamWindow = 64 << 10

// Errors that end the decoding of a stream: past its own limit, or past the work
// budget of the whole check.
var (
	errPDFStreamTooLarge = errors.New("stream too large")
	errPDFTooMuchWork    = errors.New("too much decoding")
)

// pdfCheckStreams decodes every stream of data as the library would into counters, so
// that a decompression bomb is refused before the library meets it: each stream, and
// each stage of its filter chain, at most MaxStreamBytes; all streams but images
// together at most MaxInflatedBytes. All the bytes its decoders read and write,
// images' included, are bounded by pdfWorkBudget, so the check's own time is linear in
// the file and the limits whatever the file holds. It stops with ETIMEOUT when ctx
// ends.
func pdfCheckStreams(ctx context.Context, name string, data []byte, limits ParseLimits) error {
	s := &pdfScan{data: data, endstream: -1}
	var total int64
	work := pdfWorkBudget(len(data), limits)
	prev := 0 // where the previous keyword ended: no dictionary reaches back past it
	for pos := 0; pos < len(data); {
		i := bytes.Index(data[pos:], []byte("stream"))
		if i < 0 {
			break
		}
		kw := pos + i
		pos = kw + len("stream")
		from := prev
		prev = pos
		if kw >= 3 && string(data[kw-3:kw]) == "end" {
			continue
		}
		start, ok := pdfBodyStart(data, pos)
		if !ok {
			continue // the library refuses a stream keyword without an end of line
		}
		if err := ctx.Err(); err != nil {
			return genai.Errorf(genai.ETIMEOUT, "%s: gave up checking its streams at byte %d: %v", name, kw, err)
		}
		st := s.stream(from, kw, start)
		n, err := st.decodedSize(ctx, limits.MaxStreamBytes, &work)
		switch {
		case errors.Is(err, errPDFStreamTooLarge):
			return genai.Errorf(genai.ETOOLARGE, "%s: a compressed stream at byte %d inflates to over %d bytes; refused as a likely decompression bomb", name, kw, limits.MaxStreamBytes)
		case errors.Is(err, errPDFTooMuchWork):
			return genai.Errorf(genai.ETOOLARGE, "%s: decoding its streams takes over %d bytes of work; refused as a likely decompression bomb", name, pdfWorkBudget(len(data), limits))
		case ctx.Err() != nil:
			return genai.Errorf(genai.ETIMEOUT, "%s: gave up checking its streams at byte %d: %v", name, kw, ctx.Err())
		}
		if !st.image {
			if total += n; total > limits.MaxInflatedBytes {
				return genai.Errorf(genai.ETOOLARGE, "%s: its compressed streams inflate to over %d bytes together; refused as a likely decompression bomb", name, limits.MaxInflatedBytes)
			}
		}
	}
	return nil
}

// pdfWorkBudget bounds what the check's decoders may read and write in all: twice the
// file (each body read once, plus slack for bodies that overlap when lengths are wrong)
// and four times the total inflated size (the images, which MaxInflatedBytes leaves
// out, and the intermediate stages of chains).
func pdfWorkBudget(size int, limits ParseLimits) int64 {
	return 2*int64(size) + 4*limits.MaxInflatedBytes
}

// pdfBodyStart returns where a stream's body starts after the keyword ending at pos:
// past "\r\n", "\n" or a lone "\r", as the library reads it.
func pdfBodyStart(data []byte, pos int) (int, bool) {
	switch {
	case pos < len(data) && data[pos] == '\n':
		return pos + 1, true
	case pos+1 < len(data) && data[pos] == '\r' && data[pos+1] == '\n':
		return pos + 2, true
	case pos < len(data) && data[pos] == '\r':
		return pos + 1, true
	}
	return 0, false
}

// pdfStream is a stream as the check decodes it.
type pdfStream struct {
	body    []byte
	filters []string // nil with known false: the dictionary could not be read
	known   bool
	image   bool
}

// pdfScan finds streams' dictionaries and resolves indirect references in data.
type pdfScan struct {
	data      []byte
	objects   map[[2]int64][]int // "N G obj" → offsets of the object's value; built on first use
	endstream int                // the first "endstream" at or after the last asked position; len(data) if none; -1 before the first
}

// nextEndstream returns where the first "endstream" at or after pos starts, or
// len(data). Positions asked only grow, so the file is searched once in all.
func (s *pdfScan) nextEndstream(pos int) int {
	if s.endstream < pos && s.endstream < len(s.data) {
		i := bytes.Index(s.data[pos:], []byte("endstream"))
		s.endstream = len(s.data)
		if i >= 0 {
			s.endstream = pos + i
		}
	}
	return max(s.endstream, pos)
}

// stream returns the stream whose keyword is at kw and whose body starts at start; its
// dictionary lies after from.
func (s *pdfScan) stream(from, kw, start int) pdfStream {
	dict, ok := s.dictBefore(from, kw)
	if !ok {
		return s.unreadStream(from, kw, start)
	}
	st := pdfStream{known: true}
	st.image = dict.key("Subtype").name == "Image"
	filter := s.resolve(dict.key("Filter"))
	switch filter.kind {
	case pdfName:
		st.filters = []string{filter.name}
	case pdfArray:
		for _, f := range filter.arr {
			st.filters = append(st.filters, s.resolve(f).name)
		}
	}
	length := dict.key("Length")
	st.body = s.body(start, s.resolve(length), length.kind == pdfRef)
	if len(st.filters) == 0 && pdfLooksZlib(st.body) {
		// No filter: the library copies the body as it is. A zlib body is inflated all
		// the same, in case this scan and the library disagree about the dictionary.
		st.filters = []string{"FlateDecode"}
	}
	return st
}

// unreadStream is the stream at kw whose dictionary the scan could not read (nor,
// most likely, the library): its filters are guessed from the names before the keyword,
// in their order, and from whether the body looks like zlib.
func (s *pdfScan) unreadStream(from, kw, start int) pdfStream {
	head := s.data[max(from, kw-4096):kw]
	if i := bytes.LastIndex(head, []byte("endobj")); i >= 0 {
		head = head[i:]
	}
	st := pdfStream{body: s.body(start, pdfObject{}, false), image: bytes.Contains(head, []byte("/Image"))}
	for {
		f, a := bytes.Index(head, []byte("/FlateDecode")), bytes.Index(head, []byte("/ASCII85Decode"))
		switch {
		case f >= 0 && (a < 0 || f < a):
			st.filters = append(st.filters, "FlateDecode")
			head = head[f+1:]
			continue
		case a >= 0:
			st.filters = append(st.filters, "ASCII85Decode")
			head = head[a+1:]
			continue
		}
		break
	}
	if len(st.filters) == 0 && pdfLooksZlib(st.body) {
		st.filters = []string{"FlateDecode"}
	}
	return st
}

// body returns a stream's body: its /Length bytes when the length is valid (inside the
// file, and followed by "endstream"). A wrong length the library reads as it is, up to
// the end of the file, so the body then runs to the later of that and the first
// "endstream"; a missing one it reads as empty, so the first "endstream" is plenty.
// A reference this scan cannot resolve (its object may sit in an object stream) may
// hold any length, so the body runs to the end of the file: each decoder stops at its
// own end marker, so that is more than any length could give, never less.
func (s *pdfScan) body(start int, length pdfObject, ref bool) []byte {
	switch {
	case length.kind == pdfInt && length.num >= 0:
		end := int(min(length.num, int64(len(s.data)-start))) + start
		if length.num <= int64(len(s.data)-start) {
			rest := bytes.TrimLeft(s.data[end:min(len(s.data), end+64)], "\x00\t\n\f\r ")
			if bytes.HasPrefix(rest, []byte("endstream")) {
				return s.data[start:end]
			}
		}
		return s.data[start:max(end, s.nextEndstream(start))]
	case ref:
		return s.data[start:]
	}
	return s.data[start:s.nextEndstream(start)]
}

// dictBefore reads the dictionary of the stream whose keyword is at kw: from the
// nearest "N G obj" before it, which must hold a dictionary that ends just before kw.
func (s *pdfScan) dictBefore(from, kw int) (pdfObject, bool) {
	window := s.data[max(from, kw-pdfStreamWindow):kw]
	base := kw - len(window)
	for {
		i := bytes.LastIndex(window, []byte("obj"))
		if i < 0 {
			return pdfObject{}, false
		}
		window = window[:i]
		if i >= 3 && string(window[i-3:]) == "end" {
			return pdfObject{}, false // an earlier object ended: this stream has no header
		}
		if _, ok := pdfObjHeader(s.data, base+i); !ok {
			continue
		}
		lx := pdfLexer{data: s.data[:kw], pos: base + i + len("obj")}
		v, ok := lx.value(0)
		if !ok || v.kind != pdfDict {
			return pdfObject{}, false
		}
		lx.skipSpace()
		if lx.pos != kw {
			return pdfObject{}, false
		}
		return v, true
	}
}

// pdfObjHeader reports whether "obj" at i ends an object header "N G obj", and N, G.
func pdfObjHeader(data []byte, i int) ([2]int64, bool) {
	if e := i + 3; e < len(data) && !pdfIsSpace(data[e]) && !pdfIsDelim(data[e]) {
		return [2]int64{}, false
	}
	j := i
	num := func() (int64, bool) {
		end := j
		for j > 0 && data[j-1] >= '0' && data[j-1] <= '9' {
			j--
		}
		n, err := strconv.ParseInt(string(data[j:end]), 10, 64)
		return n, err == nil
	}
	space := func() bool {
		end := j
		for j > 0 && pdfIsSpace(data[j-1]) {
			j--
		}
		return j < end
	}
	if !space() {
		return [2]int64{}, false
	}
	gen, ok := num()
	if !ok || !space() {
		return [2]int64{}, false
	}
	id, ok := num()
	if !ok || (j > 0 && !pdfIsSpace(data[j-1]) && !pdfIsDelim(data[j-1])) {
		return [2]int64{}, false
	}
	return [2]int64{id, gen}, true
}

// resolve returns the object v refers to, if v is a reference: the definition of
// that object in the file that holds a value of a usable kind, the last one if there
// are several (an incremental update's), or a null object.
func (s *pdfScan) resolve(v pdfObject) pdfObject {
	if v.kind != pdfRef {
		return v
	}
	if s.objects == nil {
		s.objects = map[[2]int64][]int{}
		for pos := 0; ; {
			i := bytes.Index(s.data[pos:], []byte("obj"))
			if i < 0 {
				break
			}
			if id, ok := pdfObjHeader(s.data, pos+i); ok {
				s.objects[id] = append(s.objects[id], pos+i+len("obj"))
			}
			pos += i + len("obj")
		}
	}
	offsets := s.objects[v.ref]
	for k := len(offsets) - 1; k >= 0; k-- {
		lx := pdfLexer{data: s.data, pos: offsets[k]}
		if x, ok := lx.value(0); ok && x.kind != pdfRef {
			return x
		}
	}
	return pdfObject{}
}

// decodedSize decodes the stream's body through its filters into counters and returns
// its decoded size; errPDFStreamTooLarge when a stage's output passes limit,
// errPDFTooMuchWork when what all stages read and write passes what is left of *work.
// A stream with a filter the library does not decode counts as nothing: the library
// fails on it before reading a byte.
func (st pdfStream) decodedSize(ctx context.Context, limit int64, work *int64) (int64, error) {
	if len(st.filters) == 0 {
		return 0, nil
	}
	var r io.Reader = &pdfCounter{r: bytes.NewReader(st.body), limit: int64(len(st.body)), work: work, ctx: ctx}
	for _, f := range st.filters {
		switch f {
		case "FlateDecode":
			zr, err := zlib.NewReader(r)
			if err != nil {
				return 0, nil // the library panics on it
			}
			r = zr
		case "ASCII85Decode":
			r = ascii85.NewDecoder(&pdfASCII85Alphabet{r: r})
		default:
			if st.known {
				return 0, nil
			}
			continue
		}
		r = &pdfCounter{r: r, limit: limit, work: work, ctx: ctx}
	}
	n, err := io.Copy(io.Discard, r)
	if errors.Is(err, errPDFStreamTooLarge) || errors.Is(err, errPDFTooMuchWork) {
		return n, err
	}
	return n, nil // a corrupt stream counts what decoded before the damage
}

// pdfCounter counts what a stage of a filter chain yields, failing past limit or when
// the work budget shared by all counters runs out, and checks ctx every few megabytes.
type pdfCounter struct {
	r     io.Reader
	n     int64
	limit int64
	work  *int64
	ctx   context.Context
	next  int64 // when to check ctx next
}

func (c *pdfCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	if *c.work -= int64(n); *c.work < 0 {
		return n, errPDFTooMuchWork
	}
	if c.n > c.limit {
		return n, errPDFStreamTooLarge
	}
	if c.n >= c.next {
		c.next = c.n + 4<<20
		if cerr := c.ctx.Err(); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

// pdfASCII85Alphabet passes on the bytes of the ASCII85 alphabet and ends at "~", as
// the library's reader before its ASCII85 decoder does.
type pdfASCII85Alphabet struct {
	r   io.Reader
	eod bool
}

func (a *pdfASCII85Alphabet) Read(p []byte) (int, error) {
	if a.eod {
		return 0, io.EOF
	}
	n, err := a.r.Read(p)
	out := 0
	for _, c := range p[:n] {
		if c == '~' {
			a.eod = true
			return out, io.EOF
		}
		if (c >= '!' && c <= 'u') || c == 'z' {
			p[out] = c
			out++
		}
	}
	return out, err
}

// pdfLooksZlib reports whether body starts with a zlib header.
func pdfLooksZlib(body []byte) bool {
	return len(body) > 1 && body[0]&0x0f == 8 && (uint16(body[0])<<8|uint16(body[1]))%31 == 0
}

// The kinds of pdfObject.
const (
	pdfNull = iota
	pdfInt
	pdfName
	pdfDict
	pdfArray
	pdfRef
	pdfOther // a string, a real, a boolean, a keyword
)

// pdfObject is a PDF value as far as the check needs it.
type pdfObject struct {
	kind int
	num  int64
	name string
	dict map[string]pdfObject
	arr  []pdfObject
	ref  [2]int64
}

func (o pdfObject) key(k string) pdfObject { return o.dict[k] }

// pdfLexer reads PDF values from data as the library's lexer (lex.go) does.
type pdfLexer struct {
	data []byte
	pos  int
}

// pdfMaxDepth bounds the nesting of the values read.
const pdfMaxDepth = 32

func pdfIsSpace(c byte) bool {
	switch c {
	case 0, '\t', '\n', '\f', '\r', ' ':
		return true
	}
	return false
}

func pdfIsDelim(c byte) bool {
	switch c {
	case '<', '>', '(', ')', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (lx *pdfLexer) skipSpace() {
	for lx.pos < len(lx.data) {
		switch c := lx.data[lx.pos]; {
		case pdfIsSpace(c):
			lx.pos++
		case c == '%':
			for lx.pos < len(lx.data) && lx.data[lx.pos] != '\r' && lx.data[lx.pos] != '\n' {
				lx.pos++
			}
		default:
			return
		}
	}
}

// value reads one value; ok is false at the end of data or on what the library would
// refuse.
func (lx *pdfLexer) value(depth int) (v pdfObject, ok bool) {
	if depth > pdfMaxDepth {
		return v, false
	}
	lx.skipSpace()
	if lx.pos >= len(lx.data) {
		return v, false
	}
	d := lx.data
	switch c := d[lx.pos]; {
	case c == '<' && lx.pos+1 < len(d) && d[lx.pos+1] == '<':
		lx.pos += 2
		v = pdfObject{kind: pdfDict, dict: map[string]pdfObject{}}
		for {
			lx.skipSpace()
			if lx.pos+1 < len(d) && d[lx.pos] == '>' && d[lx.pos+1] == '>' {
				lx.pos += 2
				return v, true
			}
			k, ok := lx.value(depth + 1)
			if !ok || k.kind != pdfName {
				return v, false
			}
			x, ok := lx.value(depth + 1)
			if !ok {
				return v, false
			}
			v.dict[k.name] = x
		}
	case c == '[':
		lx.pos++
		v = pdfObject{kind: pdfArray}
		for {
			lx.skipSpace()
			if lx.pos < len(d) && d[lx.pos] == ']' {
				lx.pos++
				return v, true
			}
			x, ok := lx.value(depth + 1)
			if !ok {
				return v, false
			}
			v.arr = append(v.arr, x)
		}
	case c == '/':
		lx.pos++
		var name []byte
		for lx.pos < len(d) && !pdfIsSpace(d[lx.pos]) && !pdfIsDelim(d[lx.pos]) {
			if d[lx.pos] == '#' && lx.pos+2 < len(d) {
				if b, err := strconv.ParseUint(string(d[lx.pos+1:lx.pos+3]), 16, 8); err == nil {
					name = append(name, byte(b))
					lx.pos += 3
					continue
				}
			}
			name = append(name, d[lx.pos])
			lx.pos++
		}
		return pdfObject{kind: pdfName, name: string(name)}, true
	case c == '(':
		lx.pos++
		for depth := 1; depth > 0; lx.pos++ {
			if lx.pos >= len(d) {
				return v, false
			}
			switch d[lx.pos] {
			case '\\':
				lx.pos++
			case '(':
				depth++
			case ')':
				depth--
			}
		}
		return pdfObject{kind: pdfOther}, true
	case c == '<':
		end := bytes.IndexByte(d[lx.pos:], '>')
		if end < 0 {
			return v, false
		}
		lx.pos += end + 1
		return pdfObject{kind: pdfOther}, true
	case pdfIsDelim(c):
		return v, false
	default:
		start := lx.pos
		for lx.pos < len(d) && !pdfIsSpace(d[lx.pos]) && !pdfIsDelim(d[lx.pos]) {
			lx.pos++
		}
		word := string(d[start:lx.pos])
		n, err := strconv.ParseInt(word, 10, 64)
		if err != nil {
			if word == "null" {
				return pdfObject{}, true
			}
			return pdfObject{kind: pdfOther}, true
		}
		// "N G R" is a reference.
		save := lx.pos
		lx.skipSpace()
		if g, ok := lx.integer(); ok {
			lx.skipSpace()
			if lx.pos < len(d) && d[lx.pos] == 'R' && (lx.pos+1 == len(d) || pdfIsSpace(d[lx.pos+1]) || pdfIsDelim(d[lx.pos+1])) {
				lx.pos++
				return pdfObject{kind: pdfRef, ref: [2]int64{n, g}}, true
			}
		}
		lx.pos = save
		return pdfObject{kind: pdfInt, num: n}, true
	}
}

// integer reads a non-negative integer token.
func (lx *pdfLexer) integer() (int64, bool) {
	start := lx.pos
	for lx.pos < len(lx.data) && lx.data[lx.pos] >= '0' && lx.data[lx.pos] <= '9' {
		lx.pos++
	}
	if lx.pos == start || (lx.pos < len(lx.data) && !pdfIsSpace(lx.data[lx.pos]) && !pdfIsDelim(lx.data[lx.pos])) {
		lx.pos = start
		return 0, false
	}
	n, err := strconv.ParseInt(string(lx.data[start:lx.pos]), 10, 64)
	return n, err == nil
}
