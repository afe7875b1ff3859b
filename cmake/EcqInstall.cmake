# Installs the device libraries with a package config, so that a firmware or
# host project can use find_package(ecq) and link ecq::runtime,
# ecq::protocol and ecq::device.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ecq_runtime ecq_protocol ecq_device ecq_port_${ECQ_PORT}
  EXPORT ecqTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY runtime/include/ protocol/include/ ports/include/
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
# ecq::device drives any transport::Stream; the interface is header-only.
install(FILES transports/include/ecq/transport/stream.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ecq/transport)
install(EXPORT ecqTargets
  NAMESPACE ecq::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecq)

configure_package_config_file(cmake/ecqConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/ecqConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecq)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/ecqConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/ecqConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/ecqConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ecq)
