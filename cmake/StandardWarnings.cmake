# Warnings and sanitizers as INTERFACE targets, applied to our own code only.
# Not -Wnull-dereference: with GCC 12 at -O2 it fires inside libstdc++/CLI11 template instantiations
# (std::string in CLI11's parser) where no null can occur.
add_library(etl_warnings INTERFACE)
target_compile_options(etl_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(ETL_WERROR)
  target_compile_options(etl_warnings INTERFACE -Werror)
endif()

add_library(etl_sanitizers INTERFACE)
if(ETL_SANITIZE)
  target_compile_options(etl_sanitizers INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(etl_sanitizers INTERFACE -fsanitize=address,undefined)
elseif(ETL_TSAN)
  target_compile_options(etl_sanitizers INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(etl_sanitizers INTERFACE -fsanitize=thread)
endif()
