package hnsw

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
)

// The file format, all little-endian:
//
//	header  magic "GENAIHNS", version u32, dim u32, M u32, efConstruction u32,
//	        efSearch u32, seed u64, slots u32, entry u32, top i32, CRC-32C u32
//	        of the header so far (so sizes are trusted before anything is allocated)
//	body    ids [slots]u32, levels [slots]u8, deleted [(slots+63)/64]u64,
//	        vectors [slots*dim]f32, ground-layer lists [slots*(2M+1)]u32,
//	        then per slot with level > 0: level*(M+1) u32
//	trailer CRC-32C u32 of header and body
//
// A reader checks both checksums and every index in the graph, so a corrupt or
// hostile file gives an error, never a panic or an out-of-range access later.
const (
	magic         = "GENAIHNS"
	formatVersion = 1
	headerSize    = 8 + 4*5 + 8 + 4*3 + 4
	maxDim        = 1 << 16
	maxM          = 1 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFormat is wrapped by the errors ReadFrom returns for data that is not a valid
// index file (truncated, corrupt, or of another version).
var ErrFormat = errors.New("hnsw: bad index file")

// WriteTo writes the index to w in a versioned binary format with a CRC-32C
// checksum, for ReadFrom to load without rebuilding the graph. Searches may run
// while it writes; writes to the index wait.
func (x *Index) WriteTo(w io.Writer) (int64, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.dim == 0 {
		return 0, errors.New("hnsw: WriteTo on an index without dimension")
	}
	cw := &countWriter{w: w}
	crc := crc32.New(castagnoli)
	bw := bufio.NewWriterSize(io.MultiWriter(cw, crc), 1<<16)
	e := encoder{w: bw}

	e.bytes([]byte(magic))
	e.u32(formatVersion)
	e.u32(uint32(x.dim))
	e.u32(uint32(x.opts.M))
	e.u32(uint32(x.opts.EfConstruction))
	e.u32(uint32(x.opts.EfSearch))
	e.u64(x.opts.Seed)
	e.u32(uint32(len(x.ids)))
	e.u32(x.entry)
	e.u32(uint32(int32(x.top)))
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	e.u32(crc.Sum32())

	e.u32s(x.ids)
	e.bytes(x.levels)
	for _, b := range x.deleted {
		e.u64(b)
	}
	for _, f := range x.vecs {
		e.u32(math.Float32bits(f))
	}
	e.u32s(x.links0)
	for _, up := range x.upper {
		e.u32s(up)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	e.u32(crc.Sum32())
	err := bw.Flush()
	return cw.n, err
}

// ReadFrom replaces the index with one read from r, as written by WriteTo:
// dimension, options and graph all come from the data. It returns an error
// wrapping ErrFormat, and leaves the index as it was, if the data is truncated,
// corrupt or of an unknown version.
func (x *Index) ReadFrom(r io.Reader) (int64, error) {
	cr := &countReader{r: r}
	d := decoder{r: cr, crc: crc32.New(castagnoli)}
	y, err := d.index()
	if err == nil {
		want := d.crc.Sum32()
		var got uint32
		if got, err = d.rawU32(); err == nil && got != want {
			err = errors.New("checksum mismatch")
		}
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("truncated")
		}
		return cr.n, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.dim, x.opts, x.m0, x.rng = y.dim, y.opts, y.m0, y.rng
	x.vecs, x.ids, x.levels, x.links0, x.upper = y.vecs, y.ids, y.levels, y.links0, y.upper
	x.deleted, x.slotOf, x.free, x.live = y.deleted, y.slotOf, y.free, y.live
	x.entry, x.top = y.entry, y.top
	return cr.n, nil
}

// index decodes and validates everything but the trailing checksum.
func (d *decoder) index() (*Index, error) {
	var h [headerSize]byte
	if err := d.read(h[:]); err != nil {
		return nil, err
	}
	if string(h[:8]) != magic {
		return nil, errors.New("not an index file")
	}
	le := binary.LittleEndian
	if v := le.Uint32(h[8:]); v != formatVersion {
		return nil, fmt.Errorf("version %d, want %d", v, formatVersion)
	}
	if sum := crc32.Checksum(h[:headerSize-4], castagnoli); le.Uint32(h[headerSize-4:]) != sum {
		return nil, errors.New("header checksum mismatch")
	}
	dim, m := int(le.Uint32(h[12:])), int(le.Uint32(h[16:]))
	opts := Options{M: m, EfConstruction: int(le.Uint32(h[20:])), EfSearch: int(le.Uint32(h[24:])), Seed: le.Uint64(h[28:])}
	slots, entry, top := int(le.Uint32(h[36:])), le.Uint32(h[40:]), int(int32(le.Uint32(h[44:])))
	switch {
	case dim < 1 || dim > maxDim:
		return nil, fmt.Errorf("dimension %d", dim)
	case m < 2 || m > maxM || opts.EfConstruction < 1 || opts.EfSearch < 1 || opts.EfConstruction > 1<<20 || opts.EfSearch > 1<<20:
		return nil, fmt.Errorf("options %+v", opts)
	case slots > math.MaxInt32:
		return nil, fmt.Errorf("%d slots", slots)
	case top < -1 || top > maxLevel || (top < 0) != (slots == 0) || (slots > 0 && int(entry) >= slots):
		return nil, fmt.Errorf("entry %d at layer %d of %d slots", entry, top, slots)
	}
	if n := d.remaining(); n >= 0 {
		// The reader knows its size: fail a short file now, and allocate every
		// array at its final size instead of growing it as data arrives.
		words := int64(slots)*int64(1+dim+2*m+1) + 2*int64((slots+63)/64) + 1
		if 4*words+int64(slots) > n {
			return nil, io.ErrUnexpectedEOF
		}
		d.exact = true
	}
	x := &Index{}
	x.init(dim, opts)
	x.rng = rand.New(rand.NewPCG(opts.Seed+uint64(slots), opts.Seed^0x9e3779b97f4a7c15))
	x.entry, x.top = entry, top

	var err error
	if x.ids, err = d.u32s(slots); err != nil {
		return nil, err
	}
	if x.levels, err = d.bytes(slots); err != nil {
		return nil, err
	}
	words, err := d.u32s(2 * ((slots + 63) / 64))
	if err != nil {
		return nil, err
	}
	x.deleted = make([]uint64, len(words)/2)
	for i := range x.deleted {
		x.deleted[i] = uint64(words[2*i]) | uint64(words[2*i+1])<<32
	}
	if slots%64 != 0 && x.deleted[len(x.deleted)-1]>>(slots%64) != 0 {
		return nil, errors.New("deleted bits past the last slot")
	}
	if x.vecs, err = d.f32s(slots * dim); err != nil {
		return nil, err
	}
	if x.links0, err = d.u32s(slots * (x.m0 + 1)); err != nil {
		return nil, err
	}
	x.upper = make([][]uint32, slots)
	for slot, level := range x.levels {
		if int(level) > top {
			return nil, fmt.Errorf("slot %d at layer %d above the top %d", slot, level, top)
		}
		if level > 0 {
			if x.upper[slot], err = d.u32s(int(level) * (m + 1)); err != nil {
				return nil, err
			}
		}
	}
	if slots > 0 && int(x.levels[entry]) != top {
		return nil, fmt.Errorf("entry %d is not on the top layer", entry)
	}
	for slot := range uint32(slots) {
		for l := 0; l <= int(x.levels[slot]); l++ {
			list := x.list(slot, l)
			if int(list[0]) > len(list)-1 {
				return nil, fmt.Errorf("slot %d layer %d: %d neighbours", slot, l, list[0])
			}
			for _, n := range list[1 : 1+list[0]] {
				if int(n) >= slots || int(x.levels[n]) < l {
					return nil, fmt.Errorf("slot %d layer %d: bad neighbour %d", slot, l, n)
				}
			}
		}
		if x.isDeleted(slot) {
			x.free = append(x.free, slot)
			continue
		}
		id := x.ids[slot]
		if _, dup := x.slotOf[id]; dup {
			return nil, fmt.Errorf("id %d stored twice", id)
		}
		x.slotOf[id] = slot
		x.live++
	}
	return x, nil
}

type encoder struct {
	w   *bufio.Writer
	buf [8]byte
}

func (e *encoder) bytes(b []byte) { e.w.Write(b) } // bufio.Writer keeps the first error for Flush

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.w.Write(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.w.Write(e.buf[:8])
}

func (e *encoder) u32s(vs []uint32) {
	for _, v := range vs {
		e.u32(v)
	}
}

type decoder struct {
	r     *countReader
	crc   hash.Hash32
	buf   []byte
	exact bool // the input is known to hold all the sizes the header claims
}

// remaining returns how many bytes the input has left, or -1 if it cannot tell.
func (d *decoder) remaining() int64 {
	switch r := d.r.r.(type) {
	case interface{ Len() int }: // bytes.Reader, bytes.Buffer, strings.Reader
		return int64(r.Len())
	case interface {
		io.Seeker
		Stat() (fs.FileInfo, error)
	}: // *os.File
		fi, err := r.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		pos, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return -1
		}
		return fi.Size() - pos
	}
	return -1
}

// initialCap is the capacity to start an array of n elements with.
func (d *decoder) initialCap(n int) int {
	if d.exact {
		return n
	}
	return min(n, readChunk)
}

func (d *decoder) read(b []byte) error {
	if _, err := io.ReadFull(d.r, b); err != nil {
		return err
	}
	d.crc.Write(b)
	return nil
}

// rawU32 reads the trailing checksum, which is not part of what it sums.
func (d *decoder) rawU32() (uint32, error) {
	var b [4]byte
	if _, err := io.ReadFull(d.r, b[:]); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// readChunk is how much is read (and allocated) at a time, so a header that claims
// more data than the file holds fails at the end of the file, not in make.
const readChunk = 1 << 20

func (d *decoder) bytes(n int) ([]byte, error) {
	out := make([]byte, 0, d.initialCap(n))
	for len(out) < n {
		k := min(n-len(out), readChunk)
		out = append(out, make([]byte, k)...)
		if err := d.read(out[len(out)-k:]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *decoder) u32s(n int) ([]uint32, error) {
	out := make([]uint32, 0, d.initialCap(n))
	err := d.words(n, func(b []byte) {
		for i := 0; i < len(b); i += 4 {
			out = append(out, binary.LittleEndian.Uint32(b[i:]))
		}
	})
	return out, err
}

func (d *decoder) f32s(n int) ([]float32, error) {
	out := make([]float32, 0, d.initialCap(n))
	err := d.words(n, func(b []byte) {
		for i := 0; i < len(b); i += 4 {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
	})
	return out, err
}

// words reads n 4-byte words, handing them to use a chunk at a time.
func (d *decoder) words(n int, use func([]byte)) error {
	if want := 4 * min(n, readChunk); cap(d.buf) < want {
		d.buf = make([]byte, want)
	}
	for n > 0 {
		k := min(n, readChunk)
		b := d.buf[:4*k]
		if err := d.read(b); err != nil {
			return err
		}
		use(b)
		n -= k
	}
	return nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
