# Install rules: the device libraries as the CMake package "ecq", so that an
# application can call find_package(ecq) and link ecq::runtime and the other
# targets (docs/packaging.md), and the programs ecq-pki, ecq-device and
# ecq-coordinator where the build has them. ECQ_INSTALL turns the rules off,
# which is its default when ecq is not the top-level project.
#
# The package has two export sets. ecqTargets holds the libraries that need
# only Eigen's headers: the port, ecq::runtime, ecq::protocol and
# ecq::device. ecqTransportTargets holds those that need Mbed TLS:
# ecq::transport, ecq::transport_socket and ecq::pki. The coordinator, the
# simulator, the data library and the Asio transport are host-only and stay
# out of the package.
if(NOT ECQ_INSTALL)
  return()
endif()
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ECQ_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ecq CACHE STRING
    "Folder under the install prefix for ecqConfig.cmake and the other package files")

# Collects the targets of this build among `candidates` into `targets_var`
# and their export names, which are the component names, into
# `components_var`.
function(ecq_installed_targets targets_var components_var)
  set(targets)
  set(components)
  foreach(target IN LISTS ARGN)
    if(TARGET ${target})
      get_target_property(export_name ${target} EXPORT_NAME)
      list(APPEND targets ${target})
      list(APPEND components ${export_name})
    endif()
  endforeach()
  set(${targets_var} ${targets} PARENT_SCOPE)
  set(${components_var} ${components} PARENT_SCOPE)
endfunction()

ecq_installed_targets(ecq_core_targets ECQ_CORE_COMPONENTS
  ecq_port_${ECQ_PORT} ecq_runtime ecq_protocol ecq_device)
ecq_installed_targets(ecq_transport_targets ECQ_TRANSPORT_COMPONENTS
  ecq_transport ecq_transport_socket ecq_pki)

install(TARGETS ${ecq_core_targets}
  EXPORT ecqTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT ecqTargets
  NAMESPACE ecq::
  DESTINATION ${ECQ_INSTALL_CMAKEDIR})
if(ecq_transport_targets)
  install(TARGETS ${ecq_transport_targets}
    EXPORT ecqTransportTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT ecqTransportTargets
    NAMESPACE ecq::
    DESTINATION ${ECQ_INSTALL_CMAKEDIR})
  # Debian's Mbed TLS ships no CMake package, so ecqConfig.cmake finds it
  # with the project's own find module, installed beside it.
  install(FILES ${PROJECT_SOURCE_DIR}/cmake/FindMbedTLS.cmake DESTINATION ${ECQ_INSTALL_CMAKEDIR})
endif()

# Headers of the installed libraries only. A runtime-core build has no
# device client, and no build installs the Asio transport.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/ports/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET ecq_port_posix AND ECQ_PORT STREQUAL "posix")
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/ports/posix/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
if(TARGET ecq_device)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  # ecq::device drives any transport::Stream, whose interface is header-only.
  install(FILES ${PROJECT_SOURCE_DIR}/transports/include/ecq/transport/stream.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ecq/transport)
else()
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/runtime/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    PATTERN device_client.h EXCLUDE)
endif()
if(TARGET ecq_protocol)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/protocol/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
if(TARGET ecq_transport)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/transports/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
    PATTERN asio_*.h EXCLUDE)
endif()
if(TARGET ecq_pki)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/pki/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()

foreach(program ecq-pki ecq-device ecq-coordinator)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# The config loads the transport export set only when Mbed TLS is found, and
# defaults MbedTLS_USE_STATIC_LIBS to this build's setting, so that a cross
# build linked against the static archives gives its consumers the same.
if(MbedTLS_USE_STATIC_LIBS)
  set(ECQ_MBEDTLS_USE_STATIC_LIBS ON)
else()
  set(ECQ_MBEDTLS_USE_STATIC_LIBS OFF)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ecqConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ecqConfig.cmake
  INSTALL_DESTINATION ${ECQ_INSTALL_CMAKEDIR})
# 0.x releases may change the API in every minor version, so a request for
# 0.1 accepts 0.1.* only.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ecqConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/ecqConfig.cmake
  ${PROJECT_BINARY_DIR}/ecqConfigVersion.cmake
  DESTINATION ${ECQ_INSTALL_CMAKEDIR})
