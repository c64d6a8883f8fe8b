package rag

import (
	"bytes"
	"context"
	"errors"
	"image"
	_ "image/jpeg" // image.DecodeConfig reads JPEG
	_ "image/png"  // and PNG
	"strings"

	"genai"
	"genai/ocr"
	"genai/pdfium"
)

// Bounds of OCR: the pixels of one image (a bomb of a PNG can claim billions), and
// the resolution scanned PDF pages are rendered at.
const (
	ocrMaxPixels = 60_000_000
	ocrDPI       = 300
)

// parseImage reads the text of a PNG or JPEG image by OCR (package ocr, tesseract),
// as one section on page 1. Without tesseract it says so.
func parseImage(ctx context.Context, name string, data []byte) (*Parsed, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, genai.Errorf(genai.EINVALID, "%s: not a PNG or JPEG image: %v", name, err)
	}
	if int64(cfg.Width)*int64(cfg.Height) > ocrMaxPixels {
		return nil, genai.Errorf(genai.ETOOLARGE, "%s: a %s image of %d×%d pixels, over the limit of %d pixels", name, format, cfg.Width, cfg.Height, ocrMaxPixels)
	}
	text, err := ocrText(ctx, name, data)
	if err != nil {
		return nil, err
	}
	p := &Parsed{}
	if text != "" {
		p.Sections = []Section{{Text: text, Page: 1}}
	}
	return p, nil
}

// ocrText runs OCR on an image and tidies its text: words broken by a hyphen at a line
// end joined, paragraphs separated by one blank line, lines kept.
func ocrText(ctx context.Context, name string, img []byte) (string, error) {
	text, err := ocr.Text(ctx, img)
	switch {
	case errors.Is(err, ocr.ErrUnavailable):
		return "", genai.Errorf(genai.EMEDIATYPE, "%s: images and scanned pages are read by OCR, and tesseract is not installed on this server", name)
	case ctx.Err() != nil:
		return "", genai.Errorf(genai.ETIMEOUT, "%s: gave up reading the image: %v", name, ctx.Err())
	case err != nil:
		return "", genai.Errorf(genai.EINVALID, "%s: %v", name, err)
	}
	// The same clean-up as a PDF's text layer: words broken at line ends joined.
	text = pdfium.CleanText(strings.ReplaceAll(text, "\f", "\n\n"))
	var paras []string
	for _, p := range strings.Split(text, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			paras = append(paras, p)
		}
	}
	return strings.Join(paras, "\n\n"), nil
}
