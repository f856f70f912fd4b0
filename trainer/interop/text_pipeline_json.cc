#include "trainer/interop/text_pipeline_json.h"

#include <fstream>

#include "trainer/data/vocabulary.h"
#include "trainer/interop/keras_layers.h"

namespace rnn_dist::interop {

namespace {

constexpr const char* kFormat = "rnn_dist-text-pipeline";
constexpr int kFormatVersion = 1;

// `j[key]` if it exists with the type of T; else InteropError naming the file and the key.
template <typename T>
T field(const nlohmann::json& j, const std::string& key, const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end()) throw InteropError(path + ": '" + key + "' is missing");
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InteropError(path + ": '" + key + "' has the wrong type (" + it->type_name() + ")");
  }
}

void require(bool ok, const std::string& message) {
  if (!ok) throw InteropError(message);
}

// The words of `word_index` in id order (id 4 first), checking that the ids are 4, 5, ... with
// no gap or repeat.
std::vector<std::string> words_by_id(const nlohmann::json& index, const std::string& path) {
  require(index.is_object(), path + ": 'word_index' must be an object");
  std::vector<std::string> words(index.size());
  for (const auto& [word, id] : index.items()) {
    require(id.is_number_unsigned(), path + ": 'word_index' of '" + word + "' is not an id");
    const auto k = id.get<std::uint64_t>() - (data::kIndexFrom + 1);
    require(id.get<std::uint64_t>() > data::kIndexFrom && k < words.size() && words[k].empty(),
            path + ": 'word_index' of '" + word + "' (" + id.dump() +
                ") is not one of the ids 4 .. number of words + 3, each once");
    words[k] = word;
  }
  return words;
}

}  // namespace

nlohmann::ordered_json text_pipeline_json(const pb::Checkpoint& c) {
  const auto& p = c.pipeline();
  nlohmann::ordered_json j = {{"format", kFormat},
                      {"format_version", kFormatVersion},
                      {"tokenizer",
                       {{"version", p.tokenizer().version()},
                        {"lowercase", p.tokenizer().lowercase()},
                        {"strip_html", p.tokenizer().strip_html()}}},
                      {"num_words", c.model().num_words()},
                      {"index_from", data::kIndexFrom},
                      {"pad_id", data::kPadId},
                      {"start_id", data::kStartId},
                      {"oov_id", data::kOovId},
                      {"maxlen", p.maxlen()},
                      {"padding", p.padding()},
                      {"truncating", p.truncating()},
                      {"mask_padding", c.model().mask_padding()}};
  // ordered_json's operator[] searches its list of keys: appending to the list directly keeps
  // this linear (the vocabulary's words are distinct, data/vocabulary.h).
  auto& index = j["word_index"] = nlohmann::ordered_json::object();
  auto& entries = index.get_ref<nlohmann::ordered_json::object_t&>();
  const auto& words = c.vocabulary().words();
  entries.reserve(static_cast<std::size_t>(words.size()));
  for (int k = 0; k < words.size(); ++k) entries.push_back({words[k], k + data::kIndexFrom + 1});
  j["counts"] = std::vector<std::uint64_t>(c.vocabulary().counts().begin(),
                                           c.vocabulary().counts().end());
  return j;
}

TextPipeline read_text_pipeline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot open the text pipeline " + path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InteropError(path + ": not valid JSON (" + e.what() + ")");
  }
  require(j.is_object() && j.value("format", "") == kFormat,
          path + ": not an rnn_dist text pipeline (its 'format' is not '" + kFormat + "')");
  require(field<int>(j, "format_version", path) <= kFormatVersion,
          path + ": written by a newer rnn_dist (format_version " + j["format_version"].dump() + ")");
  require(field<int>(j, "index_from", path) == int(data::kIndexFrom) &&
              field<int>(j, "start_id", path) == int(data::kStartId) &&
              field<int>(j, "oov_id", path) == int(data::kOovId),
          path + ": index_from, start_id and oov_id must be 3, 1 and 2 (keras.datasets.imdb)");
  TextPipeline t;
  const auto& tokenizer = field<nlohmann::json>(j, "tokenizer", path);
  t.pipeline.mutable_tokenizer()->set_version(field<int>(tokenizer, "version", path));
  t.pipeline.mutable_tokenizer()->set_lowercase(field<bool>(tokenizer, "lowercase", path));
  t.pipeline.mutable_tokenizer()->set_strip_html(field<bool>(tokenizer, "strip_html", path));
  t.pipeline.set_maxlen(field<int>(j, "maxlen", path));
  t.pipeline.set_padding(field<std::string>(j, "padding", path));
  t.pipeline.set_truncating(field<std::string>(j, "truncating", path));
  t.num_words = field<int>(j, "num_words", path);
  t.mask_padding = field<bool>(j, "mask_padding", path);
  const auto words = words_by_id(field<nlohmann::json>(j, "word_index", path), path);
  const auto counts = field<std::vector<std::uint64_t>>(j, "counts", path);
  require(counts.size() == words.size(), path + ": 'counts' must have one count per word");
  t.vocabulary.set_index_from(static_cast<int>(data::kIndexFrom));
  for (std::size_t k = 0; k < words.size(); ++k) {
    t.vocabulary.add_words(words[k]);
    t.vocabulary.add_counts(counts[k]);
  }
  return t;
}

}  // namespace rnn_dist::interop
