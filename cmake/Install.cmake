# What `cmake --install` puts in place (GNUInstallDirs, relative to the prefix, default /usr/local):
#   bin/                                      the binaries (apps/CMakeLists.txt; --strip strips them)
#   share/doc/market-etl/README.md            the manual
#   share/doc/market-etl/examples/            etl.toml.example, assets.csv, market-closures.txt,
#                                             crontab.example, k8s/, prometheus/, logrotate.d/, systemd/README.md
#   lib/systemd/system/                       the service and timer units of etc/systemd/
# Nothing here is read by the binaries at run time: the SQL migrations and market-closures.txt are
# compiled in (cmake/EmbedFiles.cmake), so an install tree works from any directory and any prefix.
# tests/e2e/test_install.py installs into a staging prefix and runs the staged binaries.
include(GNUInstallDirs)

# Relative to the install prefix: /usr/local/lib/systemd/system is on systemd's unit search path, as
# /lib/systemd/system is for prefix /usr. An absolute path (/etc/systemd/system) works too.
set(ETL_INSTALL_SYSTEMDUNITDIR "lib/systemd/system" CACHE STRING
    "Where cmake --install puts the systemd units of etc/systemd/ (relative = under the prefix)")
option(ETL_INSTALL_SYSTEMD_UNITS "Install the systemd units of etc/systemd/" ON)

set(ETL_INSTALL_EXAMPLESDIR ${CMAKE_INSTALL_DOCDIR}/examples)

install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES etc/etl.toml.example etc/assets.csv etc/market-closures.txt crontab.example
        DESTINATION ${ETL_INSTALL_EXAMPLESDIR})
install(DIRECTORY etc/k8s etc/prometheus etc/logrotate.d DESTINATION ${ETL_INSTALL_EXAMPLESDIR})
install(FILES etc/systemd/README.md DESTINATION ${ETL_INSTALL_EXAMPLESDIR}/systemd)

if(ETL_INSTALL_SYSTEMD_UNITS)
  file(GLOB ETL_SYSTEMD_UNITS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/etc/systemd/*.service
       ${PROJECT_SOURCE_DIR}/etc/systemd/*.timer)
  # The units in etc/systemd/ start /usr/local/bin/etl-*; installed, they start the binaries where this
  # build's prefix puts them (CMAKE_INSTALL_FULL_BINDIR: /usr/bin for prefix /usr). DESTDIR staging keeps
  # the final paths.
  foreach(unit IN LISTS ETL_SYSTEMD_UNITS)
    get_filename_component(name ${unit} NAME)
    file(READ ${unit} text)
    string(REPLACE "/usr/local/bin/" "${CMAKE_INSTALL_FULL_BINDIR}/" text "${text}")
    file(WRITE ${PROJECT_BINARY_DIR}/systemd/${name} "${text}")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${unit})
    install(FILES ${PROJECT_BINARY_DIR}/systemd/${name} DESTINATION ${ETL_INSTALL_SYSTEMDUNITDIR})
  endforeach()
endif()
