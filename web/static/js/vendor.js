// The one place that names the vendored libraries' versioned paths (see ../../vendor.sh).
// An import map would do the same, but it must be an inline script, which the
// Content-Security-Policy forbids.
export { Marked } from '/static/vendor/marked-18.2.1/marked.esm.js';
export { default as DOMPurify } from '/static/vendor/dompurify-3.5.0/purify.es.mjs';
export { default as hljs } from '/static/vendor/highlight-11.12.0/highlight.min.js';
