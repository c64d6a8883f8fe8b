// Package ocr reads the text of images with the tesseract command (Debian's
// tesseract-ocr with its English model, tesseract-ocr-eng), when it is installed.
// There is no pure-Go OCR engine of its quality, and tesseract's C++ library would
// need cgo; running the command keeps builds CGO_ENABLED=0 and lets a machine
// without it do everything else.
package ocr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
)

// ErrUnavailable is returned when tesseract is not installed.
var ErrUnavailable = errors.New("ocr: tesseract is not installed (Debian: apt-get install tesseract-ocr tesseract-ocr-eng); images and scanned pages cannot be read")

// Command is the tesseract executable looked up on PATH.
const Command = "tesseract"

var lookPath = sync.OnceValues(func() (string, error) { return exec.LookPath(Command) })

// Available reports whether tesseract is installed.
func Available() bool {
	_, err := lookPath()
	return err == nil
}

// Text returns the text tesseract reads in the image (PNG, JPEG, TIFF…) in English.
// The command is killed when ctx ends.
func Text(ctx context.Context, image []byte) (string, error) {
	bin, err := lookPath()
	if err != nil {
		return "", ErrUnavailable
	}
	// "stdin stdout": the image in, the text out, no files; one thread, since the
	// server runs other work beside it.
	cmd := exec.CommandContext(ctx, bin, "stdin", "stdout", "-l", "eng")
	cmd.Env = append(cmd.Environ(), "OMP_THREAD_LIMIT=1")
	cmd.Stdin = bytes.NewReader(image)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("ocr: tesseract: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
