// rnn_dist's text pipeline in JavaScript, from the vocab.json written beside every export:
// review text -> the model's token ids, as `rnn_dist predict` computes them. The tokenizer rules
// are rnn_dist's trainer/data/tokenizer.h (version 1), applied to the UTF-8 bytes of the text.
'use strict';
const fs = require('fs');

const MAX_TAG_BYTES = 64;

function loadPipeline(path) {
  const p = JSON.parse(fs.readFileSync(path, 'utf8'));
  if (p.format !== 'rnn_dist-text-pipeline' || p.tokenizer.version !== 1)
    throw new Error(`${path}: not an rnn_dist text pipeline of tokenizer version 1`);
  p.index = new Map(Object.entries(p.word_index));
  return p;
}

const isAsciiWord = (c) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
const isTagStart = (c) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2f || c === 0x21;
const isApostrophe = (cp) => cp === 0x2018 || cp === 0x2019 || cp === 0xb4 || cp === 0x91 || cp === 0x92;
const isSeparator = (cp) => (cp >= 0x80 && cp <= 0xbf) || cp === 0xd7 || cp === 0xf7 ||
    (cp >= 0x2000 && cp <= 0x206f) || cp === 0x3000 || cp === 0xfeff;

// Bytes of the HTML tag starting at bytes[i] ('<'), 0 if none starts there.
function tagLength(bytes, i) {
  if (i + 1 >= bytes.length || !isTagStart(bytes[i + 1])) return 0;
  const limit = Math.min(bytes.length, i + MAX_TAG_BYTES);
  for (let k = i + 2; k < limit; ++k) {
    if (bytes[k] === 0x3e) return k - i + 1;
    if (bytes[k] === 0x3c) return 0;
  }
  return 0;
}

// The words of `text` (a string), lower-cased and with HTML tags dropped as the options say.
function tokenize(text, options) {
  const bytes = Buffer.from(text, 'utf8');
  const words = [];
  let word = [];
  const finish = () => {
    let b = 0, e = word.length;
    while (b < e && word[b] === 0x27) ++b;
    while (e > b && word[e - 1] === 0x27) --e;
    if (b < e) words.push(Buffer.from(word.slice(b, e)).toString('utf8'));
    word = [];
  };
  for (let i = 0; i < bytes.length;) {
    const c = bytes[i];
    if (c < 0x80) {
      if (isAsciiWord(c)) word.push(options.lowercase && c >= 0x41 && c <= 0x5a ? c + 32 : c);
      else if (c === 0x27) word.push(0x27);
      else {
        if (word.length) finish();
        const tag = c === 0x3c && options.strip_html ? tagLength(bytes, i) : 0;
        if (tag > 0) { i += tag; continue; }
      }
      ++i;
      continue;
    }
    const len = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    const cp = bytes.subarray(i, i + len).toString('utf8').codePointAt(0);
    if (isApostrophe(cp)) word.push(0x27);
    else if (isSeparator(cp)) { if (word.length) finish(); }
    else if (options.lowercase && cp >= 0xc0 && cp <= 0xde && cp !== 0xd7) word.push(bytes[i], bytes[i + 1] + 32);
    else for (let k = 0; k < len; ++k) word.push(bytes[i + k]);
    i += len;
  }
  if (word.length) finish();
  return words;
}

// The model input of one review: [start_id, ids...], capped at num_words, truncated and padded
// to maxlen (Keras pad_sequences with the pipeline's padding and truncating).
function encode(text, p) {
  let ids = [p.start_id];
  for (const w of tokenize(text, p.tokenizer)) {
    const id = p.index.get(w);
    ids.push(id === undefined || id >= p.num_words ? p.oov_id : id);
  }
  if (ids.length > p.maxlen) ids = p.truncating === 'pre' ? ids.slice(ids.length - p.maxlen) : ids.slice(0, p.maxlen);
  const pad = new Array(p.maxlen - ids.length).fill(p.pad_id);
  return p.padding === 'pre' ? pad.concat(ids) : ids.concat(pad);
}

module.exports = { loadPipeline, tokenize, encode };
