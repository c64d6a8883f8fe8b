// Package pdfium reads the text, outline and page images of PDFs with PDFium, the PDF
// engine of Chrome, compiled to WebAssembly (github.com/klippa-app/go-pdfium) and run
// by wazero, so builds stay CGO_ENABLED=0 and a hostile file runs in a sandbox.
//
// PDFium was chosen over a layout pass of our own on github.com/ledongthuc/pdf after
// measuring both against Poppler's pdftotext (see BenchmarkPDFText in package rag):
// ledongthuc's glyph positions are wrong for CID and ligature glyphs, and PDFium's
// text matches Poppler's word for word on TeX, groff, LibreOffice and Chrome output.
//
// Each document runs in a fresh instance of the module: its linear memory is capped
// (Config.MaxMemoryBytes), which bounds what decompression can allocate, and the
// instance is killed when the caller's context ends, which stops the CPU at once.
package pdfium

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"

	gopdfium "github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/enums"
	"github.com/klippa-app/go-pdfium/references"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sync/errgroup"
)

// DefaultMaxMemoryBytes is the default cap on one document's WebAssembly memory.
const DefaultMaxMemoryBytes = 1 << 30

// Bounds of the outline walk: outlines can be cyclic, and PDFium does not check.
const (
	maxOutlineItems = 10_000
	maxOutlineDepth = 16
)

// Instances whose memory grew past maxReusedMemory are not reused.
const maxReusedMemory = 128 << 20

// maxPageObjects bounds the objects of a blank page looked at for an image.
const maxPageObjects = 1000

// memoryCapSlack: an allocation that failed within this of the cap is taken for the
// cap's doing (PDFium asks for blocks of up to a few MiB at a time).
const memoryCapSlack = 16 << 20

// Config configures an Engine. Zero fields take their defaults.
type Config struct {
	// MaxMemoryBytes caps the WebAssembly memory of one document (default
	// DefaultMaxMemoryBytes); past it PDFium fails to allocate and the file is refused.
	MaxMemoryBytes int64
	// CacheDir keeps the module's compiled machine code between runs, which turns a
	// start-up of seconds into milliseconds. Default: genai/wazero under
	// os.UserCacheDir; "-" for none.
	CacheDir string
	// MaxInstances bounds the module instances running at once (default 4): the
	// documents read at once, and the pages of one read in parallel. Each has its own
	// memory, capped at MaxMemoryBytes, so the engine's memory is bounded by their
	// product.
	MaxInstances int
}

// pagesPerInstance is how many pages a document needs for each instance reading it in
// parallel: opening it in another instance costs about what reading a few pages does.
const pagesPerInstance = 8

// parallelMaxBytes: larger files are read by one instance. Another instance has
// memory of its own (its linear memory and the document's objects again), and a
// large file's memory is what its reader must be kept within.
const parallelMaxBytes = 8 << 20

// Engine reads PDFs. It is safe for concurrent use.
type Engine struct {
	pool      gopdfium.Pool
	maxMemory int64
	// slots holds a token per instance in use, so that taking an extra one for a
	// document's pages never waits on the pool (two documents each holding one and
	// waiting for a second would wait for ever).
	slots  chan struct{}
	opened atomic.Int64 // sessions opened, for tests
}

// ErrMemory is returned (wrapped) when a document needs more memory than the cap.
var ErrMemory = errors.New("pdfium: the document needs more memory than the limit")

// New compiles the PDFium module and returns an Engine. Compiling takes seconds
// without a cache; see Config.CacheDir.
func New(cfg Config) (*Engine, error) {
	if cfg.MaxMemoryBytes <= 0 {
		cfg.MaxMemoryBytes = DefaultMaxMemoryBytes
	}
	if cfg.MaxInstances <= 0 {
		cfg.MaxInstances = 4
	}
	rc := wazero.NewRuntimeConfig().
		// The module lowers setjmp/longjmp to exception handling.
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(uint32(min(cfg.MaxMemoryBytes>>16, 65536)))
	if dir := cacheDir(cfg.CacheDir); dir != "" {
		if cache, err := wazero.NewCompilationCacheWithDir(dir); err == nil {
			rc = rc.WithCompilationCache(cache)
		}
	}
	pool, err := webassembly.Init(webassembly.Config{
		MaxIdle:       cfg.MaxInstances,
		MaxTotal:      cfg.MaxInstances,
		ReuseWorkers:  true,
		RuntimeConfig: rc,
		// No file system: documents are passed as readers, and a PDF naming a file
		// must not reach the host's.
		FSConfig: wazero.NewFSConfig(),
		Stdout:   io.Discard,
		Stderr:   io.Discard,
	})
	if err != nil {
		return nil, fmt.Errorf("pdfium: start the engine: %w", err)
	}
	return &Engine{pool: pool, maxMemory: cfg.MaxMemoryBytes, slots: make(chan struct{}, cfg.MaxInstances)}, nil
}

func cacheDir(dir string) string {
	switch dir {
	case "-":
		return ""
	case "":
		base, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(base, "genai", "wazero")
	}
	return dir
}

// Default returns the process's shared Engine, started on first use with the default
// Config: compiling the module is the costly part, and it is the same for everyone.
var Default = sync.OnceValues(func() (*Engine, error) { return New(Config{}) })

// Close releases the engine.
func (e *Engine) Close() error { return e.pool.Close() }

// Limits bound the work of one document.
type Limits struct {
	MaxPages     int // over it, ErrTooManyPages
	MaxTextBytes int // over it, ErrTooMuchText
}

// Errors of Text, wrapped with detail.
var (
	ErrTooManyPages = errors.New("too many pages")
	ErrTooMuchText  = errors.New("too much text")
	ErrUnreadable   = errors.New("unreadable PDF")
)

// Document is what Text extracts from a PDF.
type Document struct {
	Title   string
	Pages   []Page
	Outline []OutlineItem // in document order
}

// Page is one page's text, lines separated by "\n", words by spaces, words broken at
// line ends by a hyphen joined again.
type Page struct {
	Number int // from 1
	Text   string
	// Scanned is set for a page without text that shows an image: a scan, which OCR
	// can read. A blank page is not one.
	Scanned bool
	// LineSizes is the font size in points of each line of Text (split at "\n"), 0
	// where it is not known. It is set only for documents without an outline, whose
	// headings can then be told by their size.
	LineSizes []float64
}

// OutlineItem is an entry of the PDF's outline (bookmarks): a heading.
type OutlineItem struct {
	Level int    // 1 for top-level entries
	Title string // as stored, spaces collapsed
	Page  int    // from 1; 0 when it points nowhere in the document
}

// session is one document open in one module instance.
type session struct {
	inst      gopdfium.Pdfium
	doc       references.FPDF_DOCUMENT
	stop      func() bool
	maxMemory int64
	release   func() // gives back the engine's slot
}

// open waits for a free slot, then opens data in an instance (see openInSlot).
func (e *Engine) open(ctx context.Context, data []byte) (*session, error) {
	select {
	case e.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return e.openInSlot(ctx, data)
}

// tryOpen opens data in another instance if a slot is free at once, else returns
// nil.
func (e *Engine) tryOpen(ctx context.Context, data []byte) *session {
	select {
	case e.slots <- struct{}{}:
	default:
		return nil
	}
	s, err := e.openInSlot(ctx, data)
	if err != nil {
		return nil
	}
	return s
}

// openInSlot starts an instance in the slot taken, kills it when ctx ends, and opens
// data in it.
func (e *Engine) openInSlot(ctx context.Context, data []byte) (*session, error) {
	release := sync.OnceFunc(func() { <-e.slots })
	inst, err := e.pool.GetInstanceWithContext(ctx)
	if err != nil {
		release()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("pdfium: start an instance: %w", err)
	}
	e.opened.Add(1)
	// Killing the instance cancels its context, which wazero turns into an exit of
	// the running call (WithCloseOnContextDone).
	stop := context.AfterFunc(ctx, func() { inst.Kill() })
	// A reader, not the bytes: PDFium reads the blocks it needs instead of holding a
	// second copy of the file in its memory.
	doc, err := inst.OpenDocument(&requests.OpenDocument{FileReader: bytes.NewReader(data), FileReaderSize: int64(len(data))})
	if err != nil {
		s := &session{inst: inst, stop: stop, maxMemory: e.maxMemory, release: release}
		err = s.fail(ctx, err) // before close, which may drop the instance's memory
		s.close(false)
		return nil, err
	}
	return &session{inst: inst, doc: doc.Document, stop: stop, maxMemory: e.maxMemory, release: release}, nil
}

// close frees the instance for the next document, or discards it when it holds much
// memory: wasm memory never shrinks, so an instance that read a large file would keep
// its peak for as long as it lives. Reusing the others saves the instantiation (about
// 0.1 s), most of the time of a small file.
func (s *session) close(reuse bool) {
	defer s.release()
	if !s.stop() {
		return // killed: the pool has already dropped it
	}
	if size, ok := s.memorySize(); reuse && ok && size <= maxReusedMemory {
		s.inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: s.doc})
		s.inst.Close()
		return
	}
	s.inst.Kill()
}

// memorySize returns the size of the instance's linear memory. go-pdfium keeps the
// module in an internal type, so it is reached by reflection on its exported names;
// if they change, ok is false and instances are not reused.
func (s *session) memorySize() (size int64, ok bool) {
	defer func() {
		if recover() != nil {
			size, ok = 0, false
		}
	}()
	impl := reflect.ValueOf(s.inst.GetImplementation())
	if impl.Kind() == reflect.Pointer {
		impl = impl.Elem()
	}
	mod := impl.FieldByName("Module")
	if !mod.IsValid() || mod.IsNil() {
		return 0, false
	}
	mem := mod.MethodByName("Memory").Call(nil)[0]
	return int64(mem.MethodByName("Size").Call(nil)[0].Uint()), true
}

// fail turns an error from the instance into the error to report: the context's when
// it ended, ErrMemory when the module ran out of memory, else ErrUnreadable.
func (s *session) fail(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := err.Error()
	// PDFium aborts (a trap) when an allocation fails: a trap with the memory at its
	// cap is taken for that.
	if size, ok := s.memorySize(); ok && size+memoryCapSlack >= s.maxMemory {
		return ErrMemory
	}
	if i := strings.Index(msg, "\nwasm stack trace"); i >= 0 {
		// A trap far from the cap: a corrupt file, or one large allocation that
		// would not fit.
		return fmt.Errorf("%w: PDFium stopped (%s): the file is corrupt or needs over %d MiB of memory",
			ErrUnreadable, strings.TrimSpace(msg[:i]), s.maxMemory>>20)
	}
	return fmt.Errorf("%w: %v", ErrUnreadable, strings.TrimPrefix(msg, "pdfium: "))
}

// Text extracts the title, outline and text of each page of the PDF data. It stops,
// returning ctx's error, when ctx ends.
func (e *Engine) Text(ctx context.Context, data []byte, limits Limits) (*Document, error) {
	s, err := e.open(ctx, data)
	if err != nil {
		return nil, err
	}
	reuse := false
	defer func() { s.close(reuse) }()
	count, err := s.inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: s.doc})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if limits.MaxPages > 0 && count.PageCount > limits.MaxPages {
		return nil, fmt.Errorf("%w: %d pages, over the limit of %d", ErrTooManyPages, count.PageCount, limits.MaxPages)
	}
	d := &Document{}
	if t, err := s.inst.FPDF_GetMetaText(&requests.FPDF_GetMetaText{Document: s.doc, Tag: "Title"}); err == nil {
		d.Title = t.Value
	}
	if d.Outline, err = s.outline(ctx); err != nil {
		return nil, err
	}
	if d.Pages, err = e.pages(ctx, data, s, count.PageCount, len(d.Outline) == 0, limits); err != nil {
		return nil, err
	}
	reuse = true
	return d, nil
}

// pages reads the text of the document's n pages: in s, and in as many more
// instances as are free at once (up to one per CPU and one per pagesPerInstance
// pages, for files up to parallelMaxBytes), each opening the document and taking the next page not yet taken. A
// failure stops the others. Their texts together are bounded by limits.MaxTextBytes.
func (e *Engine) pages(parent context.Context, data []byte, s *session, n int, sizes bool, limits Limits) ([]Page, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel() // after the extra sessions are closed, so they can be reused
	// The first failure is the one to report: the others' may be of being stopped.
	var first error
	var once sync.Once
	stop := func(err error) error {
		once.Do(func() { first = err })
		cancel()
		return err
	}
	sessions := []*session{s}
	for len(data) <= parallelMaxBytes && len(sessions) < min(runtime.GOMAXPROCS(0), n/pagesPerInstance) {
		extra := e.tryOpen(ctx, data)
		if extra == nil {
			break
		}
		sessions = append(sessions, extra)
	}
	pages := make([]Page, n)
	var next, total atomic.Int64
	var g errgroup.Group
	for k, w := range sessions {
		reuse := false
		if k > 0 {
			defer func() { w.close(reuse) }()
		}
		g.Go(func() error {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					reuse = true
					return nil
				}
				if ctx.Err() != nil {
					return stop(parent.Err())
				}
				page, err := w.pageText(i, sizes)
				if err != nil {
					return stop(w.fail(parent, fmt.Errorf("page %d: %w", i+1, err)))
				}
				if t := total.Add(int64(len(page.Text))); limits.MaxTextBytes > 0 && t > int64(limits.MaxTextBytes) {
					return stop(fmt.Errorf("%w: over %d bytes by page %d", ErrTooMuchText, limits.MaxTextBytes, i+1))
				}
				pages[i] = page
			}
		})
	}
	if g.Wait() != nil {
		return nil, first
	}
	return pages, nil
}

// pageText returns the text of page i (from 0) inside its media box: text placed off
// the page is not read, as a reader (and pdftotext) would not see it. With sizes, it
// gives the font size of its lines too.
func (s *session) pageText(i int, sizes bool) (Page, error) {
	text, scanned, lineSizes, err := s.pageTextSizes(i, sizes)
	return Page{Number: i + 1, Text: text, Scanned: scanned, LineSizes: lineSizes}, err
}

func (s *session) pageTextSizes(i int, sizes bool) (text string, scanned bool, lineSizes []float64, err error) {
	page, err := s.inst.FPDF_LoadPage(&requests.FPDF_LoadPage{Document: s.doc, Index: i})
	if err != nil {
		return "", false, nil, err
	}
	defer s.inst.FPDF_ClosePage(&requests.FPDF_ClosePage{Page: page.Page})
	ref := requests.Page{ByReference: &page.Page}
	w, err := s.inst.FPDF_GetPageWidthF(&requests.FPDF_GetPageWidthF{Page: ref})
	if err != nil {
		return "", false, nil, err
	}
	h, err := s.inst.FPDF_GetPageHeightF(&requests.FPDF_GetPageHeightF{Page: ref})
	if err != nil {
		return "", false, nil, err
	}
	tp, err := s.inst.FPDFText_LoadPage(&requests.FPDFText_LoadPage{Page: ref})
	if err != nil {
		return "", false, nil, err
	}
	defer s.inst.FPDFText_ClosePage(&requests.FPDFText_ClosePage{TextPage: tp.TextPage})
	t, err := s.inst.FPDFText_GetBoundedText(&requests.FPDFText_GetBoundedText{
		TextPage: tp.TextPage, Left: 0, Top: float64(h.PageHeight), Right: float64(w.PageWidth), Bottom: 0,
	})
	if err != nil {
		return "", false, nil, err
	}
	text = CleanText(t.Text)
	if strings.TrimSpace(text) == "" {
		return text, s.hasImage(ref), nil, nil
	}
	if sizes {
		lineSizes = s.lineSizes(tp.TextPage, text)
	}
	return text, false, lineSizes, nil
}

// lineSizes returns the font size of each line of text, the page's text bounded by
// its media box, as the smaller of the sizes of the line's first and last
// characters (so a line is large only when all of it is), 0 where it is not known.
// The page's whole text (FPDFText_GetText) is the one whose characters have indices;
// its lines are matched with text's by a hash of their content, normalised as
// CleanText does. It costs two calls into the module per line, not one per
// character, and allocates little, since it runs for every line of a long document.
func (s *session) lineSizes(tp references.FPDF_TEXTPAGE, text string) []float64 {
	n, err := s.inst.FPDFText_CountChars(&requests.FPDFText_CountChars{TextPage: tp})
	if err != nil || n.Count <= 0 {
		return nil
	}
	all, err := s.inst.FPDFText_GetText(&requests.FPDFText_GetText{TextPage: tp, StartIndex: 0, Count: n.Count})
	if err != nil || utf8.RuneCountInString(all.Text) != n.Count {
		return nil // the indices are the runes of the text only when there are as many
	}
	size := func(i int) float64 {
		fs, err := s.inst.FPDFText_GetFontSize(&requests.FPDFText_GetFontSize{TextPage: tp, Index: i})
		if err != nil {
			return 0
		}
		return fs.FontSize
	}
	bySize := map[uint64]float64{}
	start := 0 // the index of the line's first rune
	for line := range strings.Lines(all.Text) {
		first, last := -1, -1
		j := start
		for _, r := range line {
			if !unicode.IsSpace(r) && r >= 0x20 {
				if first < 0 {
					first = j
				}
				last = j
			}
			j++
		}
		start = j
		if first < 0 {
			continue
		}
		if key := lineHash(line); bySize[key] == 0 {
			bySize[key] = min(size(first), size(last))
		}
	}
	out := make([]float64, 0, strings.Count(text, "\n")+1)
	for line := range strings.SplitSeq(text, "\n") {
		out = append(out, bySize[lineHash(line)])
	}
	return out
}

// lineHash hashes a line of text as CleanText leaves it, white space collapsed: the
// same for a line of PDFium's raw text and of the cleaned one.
func lineHash(line string) uint64 {
	h := fnv.New64a()
	var buf [utf8.UTFMax]byte
	space := false
	for _, r := range line {
		switch {
		case r == 0x02 || r == 0xFFFE || r == 0xFFFF:
			continue
		case unicode.IsSpace(r) || r < 0x20 || r == 0x7f:
			space = true
			continue
		}
		if space {
			h.Write([]byte{' '})
			space = false
		}
		if l, ok := ligatureLetters[r]; ok {
			h.Write([]byte(l))
			continue
		}
		h.Write(buf[:utf8.EncodeRune(buf[:], r)])
	}
	return h.Sum64()
}

// ligatureLetters are the ligatures CleanText spells out.
var ligatureLetters = map[rune]string{0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl", 0xFB03: "ffi", 0xFB04: "ffl", 0xFB05: "st", 0xFB06: "st"}

// hasImage reports whether a page draws an image object (looking at its first
// maxPageObjects objects).
func (s *session) hasImage(page requests.Page) bool {
	n, err := s.inst.FPDFPage_CountObjects(&requests.FPDFPage_CountObjects{Page: page})
	if err != nil {
		return false
	}
	for i := range min(n.Count, maxPageObjects) {
		obj, err := s.inst.FPDFPage_GetObject(&requests.FPDFPage_GetObject{Page: page, Index: i})
		if err != nil {
			return false
		}
		if t, err := s.inst.FPDFPageObj_GetType(&requests.FPDFPageObj_GetType{PageObject: obj.PageObject}); err == nil && t.Type == enums.FPDF_PAGEOBJ_IMAGE {
			return true
		}
	}
	return false
}

// lineEndHyphen is a word broken at a line end: PDFium marks a hyphen it found there
// with U+0002; a plain hyphen between letters at a line end is treated the same,
// as pdftotext does.
var lineEndHyphen = regexp.MustCompile(`(\pL)(?:\x02|-|\x{00AD})[ \t]*\n[ \t]*(\pL)`)

// ligatures spells out the Latin ligature characters that fonts' ToUnicode maps
// sometimes give (as pdftotext does), so "ﬁnd" is found by "find".
var ligatures = strings.NewReplacer("\uFB00", "ff", "\uFB01", "fi", "\uFB02", "fl", "\uFB03", "ffi", "\uFB04", "ffl", "\uFB05", "st", "\uFB06", "st") // as ligatureLetters

// CleanText normalises PDFium's text: "\r\n" line ends become "\n", ligatures are
// spelt out, words broken by a hyphen at a line end are joined, and control characters other than "\n" and
// "\t" become spaces.
func CleanText(t string) string {
	t = strings.ReplaceAll(t, "\r\n", "\n")
	t = strings.ReplaceAll(t, "\r", "\n")
	t = ligatures.Replace(t)
	t = lineEndHyphen.ReplaceAllString(t, "$1$2")
	t = strings.Map(func(r rune) rune {
		switch {
		case r == 0x02 || r == 0xFFFE || r == 0xFFFF:
			return -1
		case r == '\n' || r == '\t':
			return r
		case r < 0x20 || r == 0x7f:
			return ' '
		}
		return r
	}, t)
	return strings.ToValidUTF8(t, "\uFFFD")
}

// outline walks the document's bookmarks depth first, with bounds on their number
// and depth (a cyclic outline would otherwise never end).
func (s *session) outline(ctx context.Context) ([]OutlineItem, error) {
	var items []OutlineItem
	seen := map[references.FPDF_BOOKMARK]bool{}
	var walk func(parent *references.FPDF_BOOKMARK, level int) error
	walk = func(parent *references.FPDF_BOOKMARK, level int) error {
		if level > maxOutlineDepth {
			return nil
		}
		first, err := s.inst.FPDFBookmark_GetFirstChild(&requests.FPDFBookmark_GetFirstChild{Document: s.doc, Bookmark: parent})
		if err != nil {
			return s.fail(ctx, err)
		}
		for b := first.Bookmark; b != nil; {
			if seen[*b] || len(items) >= maxOutlineItems {
				return nil
			}
			seen[*b] = true
			item := OutlineItem{Level: level}
			if t, err := s.inst.FPDFBookmark_GetTitle(&requests.FPDFBookmark_GetTitle{Bookmark: *b}); err == nil {
				item.Title = strings.Join(strings.Fields(CleanText(t.Title)), " ")
			}
			item.Page = s.bookmarkPage(*b)
			items = append(items, item)
			if err := walk(b, level+1); err != nil {
				return err
			}
			next, err := s.inst.FPDFBookmark_GetNextSibling(&requests.FPDFBookmark_GetNextSibling{Document: s.doc, Bookmark: *b})
			if err != nil {
				return s.fail(ctx, err)
			}
			b = next.Bookmark
		}
		return nil
	}
	if err := walk(nil, 1); err != nil {
		return nil, err
	}
	return items, nil
}

// bookmarkPage returns the page (from 1) a bookmark points to, through its
// destination or its GoTo action, or 0.
func (s *session) bookmarkPage(b references.FPDF_BOOKMARK) int {
	var dest *references.FPDF_DEST
	if d, err := s.inst.FPDFBookmark_GetDest(&requests.FPDFBookmark_GetDest{Document: s.doc, Bookmark: b}); err == nil {
		dest = d.Dest
	}
	if dest == nil {
		a, err := s.inst.FPDFBookmark_GetAction(&requests.FPDFBookmark_GetAction{Bookmark: b})
		if err != nil || a.Action == nil {
			return 0
		}
		d, err := s.inst.FPDFAction_GetDest(&requests.FPDFAction_GetDest{Document: s.doc, Action: *a.Action})
		if err != nil || d.Dest == nil {
			return 0
		}
		dest = d.Dest
	}
	p, err := s.inst.FPDFDest_GetDestPageIndex(&requests.FPDFDest_GetDestPageIndex{Document: s.doc, Dest: *dest})
	if err != nil || p.Index < 0 {
		return 0
	}
	return p.Index + 1
}

// RenderPages renders the given pages (from 1) of the PDF data at dpi as grayscale
// PNG images, for OCR of pages that have no text layer. It stops when ctx ends.
func (e *Engine) RenderPages(ctx context.Context, data []byte, pages []int, dpi int) ([][]byte, error) {
	s, err := e.open(ctx, data)
	if err != nil {
		return nil, err
	}
	reuse := false
	defer func() { s.close(reuse) }()
	var out [][]byte
	for _, n := range pages {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := s.inst.RenderPageInDPI(&requests.RenderPageInDPI{
			Page:        requests.Page{ByIndex: &requests.PageByIndex{Document: s.doc, Index: n - 1}},
			DPI:         dpi,
			ImageFormat: requests.RenderImageFormatGrayscale,
		})
		if err != nil {
			return nil, s.fail(ctx, fmt.Errorf("render page %d: %w", n, err))
		}
		var buf bytes.Buffer
		err = png.Encode(&buf, r.Result.RenderedImage)
		r.CleanupFunc() // the pixels live in the instance's memory until then
		if err != nil {
			return nil, fmt.Errorf("pdfium: encode page %d: %w", n, err)
		}
		out = append(out, buf.Bytes())
	}
	reuse = true
	return out, nil
}
