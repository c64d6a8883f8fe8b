// Package web is the browser UI of genai: a chat page, an image-analysis page, a
// webcam "magic mirror", a Notes page (the vector database), a Knowledge page (upload
// documents, ask questions answered with cited sources) and the Bedrock workshop's
// vector-database and knowledge-base pages, as static HTML, CSS and JavaScript embedded
// in the binary.
//
// The pages talk to the JSON API only (/api/config, /api/chat, /api/notes, /api/kb and
// the workshop backends); the server owns every decision. Nothing here runs inline: the
// server's Content-Security-Policy allows scripts and styles from 'self' only, so every
// script and style is a file under /static/. Model output is untrusted: the pages render
// it as Markdown with raw HTML escaped, then sanitise the result with DOMPurify before it
// reaches the DOM. Stored notes and documents are untrusted too: they go into the DOM as
// text nodes.
//
// The third-party libraries under static/vendor/ are pinned in package.json and copied
// by vendor.sh; node_modules is not needed to build or run.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"genai"
)

//go:embed pages static
var files embed.FS

// pages maps each page's path to its file under pages/.
var pages = map[string]string{
	"/":           "pages/chat.html",
	"/image":      "pages/image.html",
	"/mirror":     "pages/mirror.html",
	"/notes":      "pages/notes.html",
	"/aoss-index": "pages/aoss-index.html",
	"/aoss-query": "pages/aoss-query.html",

	"/knowledge":         "pages/knowledge.html",
	"/retrieve":          "pages/retrieve.html",
	"/retrieve-generate": "pages/retrieve-generate.html",
}

// contentTypes are set explicitly rather than from the system's MIME table, which
// differs between machines and does not know .mjs everywhere.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
	".json": "application/json",
	"":      "text/plain; charset=utf-8", // LICENSE files
}

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
	cacheCtl    string
}

// Handler returns the handler of the UI. It serves GET and HEAD of the pages listed by
// Pages and of the files under "/static/"; any other path is a 404 and any other method
// a 405, both with the API's JSON error body.
//
// Pages and the UI's own files are revalidated on every use (Cache-Control: no-cache
// with a content-hash ETag), so an upgraded binary takes effect at once; the vendored
// libraries live under versioned directories and are cached as immutable.
func Handler() http.Handler {
	assets := make(map[string]*asset)
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		a := &asset{
			body:        body,
			contentType: ct,
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			cacheCtl:    "no-cache",
		}
		if strings.HasPrefix(name, "static/vendor/") {
			a.cacheCtl = "public, max-age=31536000, immutable"
		}
		assets[name] = a
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a broken build.
		panic("web: reading embedded files: " + err.Error())
	}
	return &handler{assets: assets}
}

// Pages returns the paths of the pages Handler serves, sorted: "/", "/aoss-index",
// "/aoss-query", "/image", "/knowledge", "/mirror", "/notes", "/retrieve" and
// "/retrieve-generate". A server mounts these and "/static/".
func Pages() []string {
	return slices.Sorted(maps.Keys(pages))
}

type handler struct {
	assets map[string]*asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a := h.lookup(r.URL.Path)
	if a == nil {
		writeError(w, http.StatusNotFound, genai.ENOTFOUND, "no page or file at "+r.URL.Path)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, genai.EINVALID, r.Method+" "+r.URL.Path+": only GET and HEAD are allowed")
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", a.cacheCtl)
	hdr.Set("ETag", a.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	// ServeContent answers If-None-Match with 304 and handles Range and HEAD.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// lookup returns the asset served at urlPath, or nil.
func (h *handler) lookup(urlPath string) *asset {
	if name, ok := pages[urlPath]; ok {
		return h.assets[name]
	}
	rest, ok := strings.CutPrefix(urlPath, "/static/")
	if !ok || rest == "" || path.Clean("/"+rest) != "/"+rest {
		return nil
	}
	return h.assets["static/"+rest]
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, message
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
