// Stand-in for uPlot when web/node_modules was not installed at build time (see cmake/web_assets.cmake).
'use strict';
window.uPlot = null;
