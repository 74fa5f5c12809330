#!/usr/bin/env bash
# Rebuild the JavaScript the site serves itself, from the npm registry (`make vendor-js`):
# book/_static/vega-bundle.js (charts) and book/_static/mathjax/ (math), both committed, and
# book/_static/live/ort/ (onnxruntime-web, which runs the live widgets' models; fetched, not
# committed). No page may depend on a CDN: readers may be offline, and CDNs move.
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
static="$(cd "$(dirname "$0")/.." && pwd)/book/_static"
out="$static/vega-bundle.js"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "vega@$VEGA" "vega-lite@$VEGA_LITE" "vega-embed@$VEGA_EMBED" \
  "mathjax@$MATHJAX" >/dev/null
for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
{
  echo "/* vega@$VEGA, vega-lite@$VEGA_LITE, vega-embed@$VEGA_EMBED from the npm registry."
  echo "   Each is (c) the University of Washington Interactive Data Lab, BSD-3-Clause; see"
  echo "   https://github.com/vega. Bundled by scripts/vendor_js.sh. */"
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

# onnxruntime-web (the live widgets' runtime) is not committed (the .wasm is 14 MB): make book
# fetches it, checked against a pinned SHA-256, with scripts/fetch_onnxruntime_web.py.
python3 "$(dirname "$0")/fetch_onnxruntime_web.py"
