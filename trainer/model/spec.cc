#include "trainer/model/spec.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace rnn_dist::model {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

LayerSpec parse_one(const std::string& item) {
  const auto colon = item.find(':');
  if (colon == std::string::npos)
    throw SpecError("layer '" + item + "' is not of the form type:units (e.g. lstm:32)");
  std::string type = lower(trim(item.substr(0, colon)));
  const auto option_colon = item.find(':', colon + 1);
  const std::string units_text = trim(item.substr(colon + 1, option_colon - colon - 1));
  if (type == "rnn") type = "simplernn";
  if (type != "simplernn" && type != "lstm" && type != "gru")
    throw SpecError("unknown layer type '" + type + "' in '" + item +
                    "' (expected simplernn, lstm or gru)");
  int units = 0;
  const auto* end = units_text.data() + units_text.size();
  const auto [ptr, ec] = std::from_chars(units_text.data(), end, units);
  if (ec != std::errc() || ptr != end || units_text.empty())
    throw SpecError("layer '" + item + "' has units '" + units_text + "', not an integer");
  if (units < 1 || units > 65536)
    throw SpecError("layer '" + item + "' has " + units_text + " units (must be 1..65536)");
  LayerSpec layer{type, units};
  if (option_colon != std::string::npos) {
    const std::string option = lower(trim(item.substr(option_colon + 1)));
    if (type != "gru")
      throw SpecError("layer '" + item + "' has an option, '" + option +
                      "', but only gru takes one (reset_after=true|false)");
    if (option == "reset_after=false")
      layer.reset_after = false;
    else if (option != "reset_after=true")
      throw SpecError("layer '" + item + "' has the option '" + option +
                      "' (expected reset_after=true or reset_after=false)");
  }
  return layer;
}

}  // namespace

std::vector<LayerSpec> parse_layers(const std::string& text) {
  std::vector<LayerSpec> layers;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const std::string item = trim(text.substr(start, comma - start));
    if (item.empty()) throw SpecError("--layers '" + text + "' has an empty layer");
    layers.push_back(parse_one(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return layers;
}

std::string format_layers(const std::vector<LayerSpec>& layers) {
  std::string out;
  for (const auto& l : layers) {
    if (!out.empty()) out += ',';
    out += l.type + ":" + std::to_string(l.units);
    if (!l.reset_after) out += ":reset_after=false";
  }
  return out;
}

void validate(const ModelSpec& spec) {
  if (spec.num_words < 4)
    throw SpecError("--num-words " + std::to_string(spec.num_words) +
                    " is too small (must be >= 4: ids 0-3 are reserved)");
  if (spec.embed_dim < 1 || spec.embed_dim > 65536)
    throw SpecError("--embed " + std::to_string(spec.embed_dim) + " is out of range (1..65536)");
  if (spec.layers.empty()) throw SpecError("--layers is empty: give at least one recurrent layer");
  for (const auto& l : spec.layers)
  {
    if (l.units < 1) throw SpecError("layer " + l.type + " has non-positive units");
    if (!l.reset_after && l.type != "gru")
      throw SpecError("layer " + l.type + " has reset_after=false, which only gru takes");
  }
}

}  // namespace rnn_dist::model
