# The web pages of chat-server --web and collect --web (src/web): wslay for WebSocket frames, and
# every file a page needs compiled into the binary, so nothing is fetched at run time (no CDN).
# uPlot comes from npm (web/package.json; scripts/setup.sh runs `npm ci` there). Without it the
# build still works: the dashboard then says that the chart library was missing at build time.
find_path(WSLAY_INCLUDE_DIR wslay/wslay.h)
find_library(WSLAY_LIBRARY wslay)
if(NOT WSLAY_INCLUDE_DIR OR NOT WSLAY_LIBRARY)
  message(FATAL_ERROR "wslay not found: run scripts/setup.sh (Debian package libwslay-dev)")
endif()
target_include_directories(concur_lib PUBLIC ${WSLAY_INCLUDE_DIR})
target_link_libraries(concur_lib PUBLIC ${WSLAY_LIBRARY})

set(_web ${PROJECT_SOURCE_DIR}/web)
set(_uplot_js ${_web}/node_modules/uplot/dist/uPlot.iife.min.js)
set(_uplot_css ${_web}/node_modules/uplot/dist/uPlot.min.css)
if(NOT EXISTS ${_uplot_js} OR NOT EXISTS ${_uplot_css})
  message(WARNING "uPlot not installed (web/node_modules): the dashboard will have no charts. Run scripts/setup.sh, then configure again.")
  set(_uplot_js ${_web}/uplot-missing.js)
  set(_uplot_css ${_web}/uplot-missing.css)
endif()
# URL path|file, one entry each (the MIME type follows from the path's extension).
set(WEB_ASSETS
  "/chat.html|${_web}/chat.html"
  "/chat.js|${_web}/chat.js"
  "/dashboard.html|${_web}/dashboard.html"
  "/dashboard.js|${_web}/dashboard.js"
  "/style.css|${_web}/style.css"
  "/uplot.js|${_uplot_js}"
  "/uplot.css|${_uplot_css}")
set(_deps ${PROJECT_SOURCE_DIR}/cmake/embed_assets.cmake)
foreach(a ${WEB_ASSETS})
  string(REGEX REPLACE "^.*\\|" "" _file "${a}")
  list(APPEND _deps ${_file})
endforeach()
set(_out ${CMAKE_BINARY_DIR}/generated/web_assets.cpp)
string(REPLACE ";" "^^" _list "${WEB_ASSETS}")
add_custom_command(OUTPUT ${_out}
  COMMAND ${CMAKE_COMMAND} "-DASSETS=${_list}" -DOUT=${_out} -P ${PROJECT_SOURCE_DIR}/cmake/embed_assets.cmake
  DEPENDS ${_deps}
  COMMENT "Embedding the web pages"
  VERBATIM)
target_sources(concur_lib PRIVATE ${_out})
