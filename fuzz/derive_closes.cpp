// libFuzzer target: the kept closes a derive reads back from derive_closes (derive::unpack_closes), on any
// bytes. Besides no crash: bytes it accepts pack back to exactly themselves (what the store holds is what
// the derive wrote), their ts strictly increase, and the kept range first_kept_close gives lies inside them.
#include "check.hpp"

#include "etl/derive/closes.hpp"

namespace {

using etl::fuzz::broken;

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto closes = etl::derive::unpack_closes(bytes);
    if (!closes) {
        if (size == 0) broken("refused no bytes (no closes)", bytes);
        return 0;
    }
    if (etl::derive::pack_closes(*closes) != bytes) broken("pack(unpack(x)) != x", bytes);
    for (std::size_t i = 1; i < closes->size(); ++i)
        if ((*closes)[i].ts <= (*closes)[i - 1].ts) broken("ts not increasing", bytes);
    for (const auto tf : {etl::market::Timeframe::day, etl::market::Timeframe::hour}) {
        const auto first = etl::derive::first_kept_close(*closes, tf);
        if (!closes->empty() && first >= closes->size()) broken("first kept close past the end", bytes);
    }
    return 0;
}
