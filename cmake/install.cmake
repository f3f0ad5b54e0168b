# Install rules and the Debian package (cpack -G DEB). Everything lands under CMAKE_INSTALL_PREFIX
# (the .deb: /usr): bin/concur, share/man/man1/concur.1, lib/systemd/system/concur-*.service,
# share/doc/concur/copyright.
include(GNUInstallDirs)

install(TARGETS concur RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES docs/concur.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME copyright)

# The units name the installed binary in ExecStart. The prefix is only known at install time
# (cmake --install --prefix; cpack installs with /usr), so they are configured then, straight
# into DESTDIR: two installs with different prefixes never share a file in the build tree.
set(CONCUR_UNITS concur-chat concur-collect concur-device)
install(CODE "
  set(CONCUR_BINARY \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/concur\")
  set(_dir \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  foreach(unit ${CONCUR_UNITS})
    message(STATUS \"Installing: \${_dir}/\${unit}.service\")
    configure_file(\"${PROJECT_SOURCE_DIR}/packaging/systemd/\${unit}.service.in\" \"\${_dir}/\${unit}.service\" @ONLY)
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/\${unit}.service\")
  endforeach()
")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME concur)
set(CPACK_PACKAGE_VENDOR "concur authors")
set(CPACK_PACKAGE_CONTACT "concur authors <concur@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "concurrent socket servers and clients under many concurrency models")
set(CPACK_PACKAGE_DESCRIPTION "One binary: hello, echo, chat and counter servers under the iterative,
thread, process, prefork, pool, select, poll, epoll, io_uring and coroutine models;
an IoT device simulator and its collector (data.txt, SQLite, MQTT); a load generator.
systemd units (Type=notify) for chat-server, device and collect.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
# Installed with DESTDIR=<staging> and the real prefix, so that the units' ExecStart says /usr/bin/concur
# (without it cpack would install with the staging directory as the prefix).
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Run-time dependencies from the binary's shared libraries (dpkg-shlibdeps, Debian dpkg-dev):
# libc6, libstdc++6, libfmt9, libsqlite3-0, libmosquitto1, libhiredis0.14, libedit2, liburing2, ...
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# systemctl daemon-reload after install/removal; units are not enabled or started by the package.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/deb/postinst ${PROJECT_SOURCE_DIR}/packaging/deb/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
