#!/bin/sh
# vendor.sh re-copies the browser libraries pinned in package.json from node_modules into
# static/vendor/, so that what the binary embeds can be reproduced from the npm registry:
#
#	cd web && npm ci --ignore-scripts && ./vendor.sh && rm -rf node_modules
#
# The directory names carry the versions, which lets the server cache them as immutable.
# node_modules is not needed at run time; only static/vendor/ is committed.
set -eu
cd "$(dirname "$0")"

version() { node -p "require('./node_modules/$1/package.json').version"; }

marked=static/vendor/marked-$(version marked)
dompurify=static/vendor/dompurify-$(version dompurify)
hljs=static/vendor/highlight-$(version @highlightjs/cdn-assets)

rm -rf static/vendor
mkdir -p "$marked" "$dompurify" "$hljs"

cp node_modules/marked/lib/marked.esm.js node_modules/marked/LICENSE "$marked/"
cp node_modules/dompurify/dist/purify.es.mjs node_modules/dompurify/LICENSE node_modules/dompurify/LICENSE-MPL "$dompurify/"
cp node_modules/@highlightjs/cdn-assets/es/highlight.min.js \
	node_modules/@highlightjs/cdn-assets/styles/github.min.css \
	node_modules/@highlightjs/cdn-assets/styles/github-dark.min.css \
	node_modules/@highlightjs/cdn-assets/LICENSE "$hljs/"

# The source maps are not vendored; drop the comments that point at them so that
# browser dev tools do not ask the server for files it does not have.
for f in "$marked/marked.esm.js" "$dompurify/purify.es.mjs"; do
	sed -i '/^\/\/# sourceMappingURL=/d' "$f"
done
echo "vendored: $marked $dompurify $hljs"
