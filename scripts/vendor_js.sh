#!/usr/bin/env bash
# Rebuild the JavaScript the site serves itself, from the npm registry (`make vendor-js`):
# book/_static/vega-bundle.js (charts), book/_static/mathjax/ (math) and
# book/_static/live/ort/ (onnxruntime-web, which runs the live widgets' models). No page may
# depend on a CDN: readers may be offline, and CDNs move.
#
# vega, vega-lite and vega-embed are
# concatenated into ONE file because Jupyter Book may load several _static scripts in any order,
# and wrapped so that each library registers as a browser global even where require.js exists.
# The versions are the ones Altair emits specs for: keep them in step with requirements.txt
# (tests/unit/test_charts.py checks the bundle against the installed Altair).
set -euo pipefail
VEGA=6.3.0
VEGA_LITE=6.4.1
VEGA_EMBED=7.3.0
MATHJAX=3.2.2
ONNXRUNTIME_WEB=1.30.0
static="$(cd "$(dirname "$0")/.." && pwd)/book/_static"
out="$static/vega-bundle.js"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "vega@$VEGA" "vega-lite@$VEGA_LITE" "vega-embed@$VEGA_EMBED" \
  "mathjax@$MATHJAX" "onnxruntime-web@$ONNXRUNTIME_WEB" >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
{
  echo "/* vega@$VEGA, vega-lite@$VEGA_LITE, vega-embed@$VEGA_EMBED from the npm registry."
  echo "   Each is (c) the University of Washington Interactive Data Lab, BSD-3-Clause; see"
  echo "   https://github.com/vega. Bundled by scripts/vendor_vega.sh. */"
  echo "(function (define, exports, module) {"
  for lib in "vega-$VEGA/package/build/vega.min.js" \
             "vega-lite-$VEGA_LITE/package/build/vega-lite.min.js" \
             "vega-embed-$VEGA_EMBED/package/build/vega-embed.min.js"; do
    sed "s|//# sourceMappingURL=.*$||" "$lib"  # no .map requests
    echo ";"
  done
  echo "}).call(window, undefined, undefined, undefined);"
} > "$out"
echo "wrote $out ($(wc -c < "$out") bytes)"

# MathJax: the combined TeX+MathML -> CommonHTML component and the web fonts it loads
# relative to itself. Sphinx points at it through mathjax_path in _config.yml.
rm -rf "$static/mathjax"
mkdir -p "$static/mathjax/output/chtml/fonts"
cp "mathjax-$MATHJAX/package/es5/tex-mml-chtml.js" "$static/mathjax/"
cp -r "mathjax-$MATHJAX/package/es5/output/chtml/fonts/woff-v2" "$static/mathjax/output/chtml/fonts/"
cp "mathjax-$MATHJAX/package/LICENSE" "$static/mathjax/LICENSE"
sed -i 's|//# sourceMappingURL=.*$||' "$static/mathjax/tex-mml-chtml.js"
echo "wrote $static/mathjax ($(du -sk "$static/mathjax" | cut -f1) KiB)"

# onnxruntime-web: the WebAssembly build only (no WebGL/WebGPU), its loader module and the
# binary it fetches. The widgets set numThreads = 1, so the page needs no cross-origin
# isolation; the binary is fetched only when a reader first uses a widget.
ort="$static/live/ort"
rm -rf "$ort"
mkdir -p "$ort"
for f in ort.wasm.min.js ort-wasm-simd-threaded.mjs ort-wasm-simd-threaded.wasm; do
  cp "onnxruntime-web-$ONNXRUNTIME_WEB/package/dist/$f" "$ort/"
done
sed -i 's|//# sourceMappingURL=.*$||' "$ort/ort.wasm.min.js"
cp "onnxruntime-web-$ONNXRUNTIME_WEB/package/LICENSE" "$ort/LICENSE" 2>/dev/null ||
  echo "onnxruntime-web@$ONNXRUNTIME_WEB: MIT License, (c) Microsoft Corporation" > "$ort/LICENSE"
echo "wrote $ort ($(du -sk "$ort" | cut -f1) KiB)"
