// MathJax 3 settings for pymdownx.arithmatex (generic mode); MathJax itself is the copy
// under javascripts/mathjax/ that docs/gen/copy_mathjax.py takes from the installed package.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex"
  },
  svg: { fontCache: "global" }
};
