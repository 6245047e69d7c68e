// The built-in corpus: short fables generated from a small grammar, so the
// character model has something to learn without any copied text.
//
// What there is to learn, from easy to hard: spelling of a few hundred words,
// spaces and punctuation, capitals after a full stop, subject–verb agreement
// ("the otter swims" / "the otters swim"), and quotes that must be closed.

import { createRandom } from './random.js';

const NOUNS = [
  ['otter', 'otters'], ['heron', 'herons'], ['fox', 'foxes'], ['badger', 'badgers'],
  ['miller', 'millers'], ['weaver', 'weavers'], ['lantern', 'lanterns'], ['raven', 'ravens'],
  ['ferryman', 'ferrymen'], ['child', 'children'], ['goat', 'goats'], ['beekeeper', 'beekeepers'],
];
const NAMES = ['Ansel', 'Brin', 'Corra', 'Dov', 'Elske', 'Fenn', 'Ilka', 'Moss'];
const ADJECTIVES = [
  'old', 'small', 'quiet', 'grey', 'clever', 'tired', 'patient', 'restless',
  'young', 'careful', 'hungry', 'cheerful',
];
const PLACES = [
  'the river', 'the mill', 'the orchard', 'the bridge', 'the marsh', 'the hill',
  'the market', 'the old barn', 'the reeds', 'the well',
];
// [singular, plural] forms of verbs that take an object.
const VERBS_OBJECT = [
  ['finds', 'find'], ['follows', 'follow'], ['watches', 'watch'], ['greets', 'greet'],
  ['carries', 'carry'], ['forgets', 'forget'], ['mends', 'mend'], ['counts', 'count'],
];
const VERBS_ALONE = [
  ['sleeps', 'sleep'], ['sings', 'sing'], ['waits', 'wait'], ['swims', 'swim'],
  ['wanders', 'wander'], ['laughs', 'laugh'], ['listens', 'listen'],
];
const THINGS = [
  'a basket of pears', 'the last boat', 'a bright stone', 'three feathers',
  'a bag of flour', 'the north wind', 'a broken wheel', 'the evening bell',
];
const ADVERBS = ['slowly', 'at dawn', 'all night', 'without a word', 'again', 'by the water'];
const TIMES = ['In the morning', 'At noon', 'Before the rain', 'After supper', 'One winter', 'Long ago'];
const SAYINGS = [
  'the water remembers', 'nothing is lost at the mill', 'count twice and carry once',
  'the wind is late today', 'every bridge has two ends', 'listen before you answer',
];
const SPEECH_VERBS = ['said', 'whispered', 'called', 'asked'];

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// A subject with its number, so the verb can agree with it.
function subject(random) {
  if (random.next() < 0.2) return { text: random.pick(NAMES), plural: false };
  const [one, many] = random.pick(NOUNS);
  const plural = random.next() < 0.35;
  const adjective = random.next() < 0.5 ? random.pick(ADJECTIVES) + ' ' : '';
  return { text: `the ${adjective}${plural ? many : one}`, plural };
}

function objectPhrase(random) {
  if (random.next() < 0.5) return random.pick(THINGS);
  const [one] = random.pick(NOUNS);
  return `the ${random.pick(ADJECTIVES)} ${one}`;
}

function predicate(random, plural) {
  const form = plural ? 1 : 0;
  if (random.next() < 0.55) {
    const verb = random.pick(VERBS_OBJECT)[form];
    const place = random.next() < 0.4 ? ` near ${random.pick(PLACES)}` : '';
    return `${verb} ${objectPhrase(random)}${place}`;
  }
  const verb = random.pick(VERBS_ALONE)[form];
  return `${verb} ${random.pick(ADVERBS)}`;
}

function sentence(random) {
  const roll = random.next();
  const who = subject(random);
  if (roll < 0.2) {
    return `${random.pick(TIMES)}, ${who.text} ${predicate(random, who.plural)}.`;
  }
  if (roll < 0.35) {
    const verb = random.pick(SPEECH_VERBS);
    return `"${capitalise(random.pick(SAYINGS))}," ${verb} ${who.text}.`;
  }
  if (roll < 0.5) {
    const other = subject(random);
    return `${capitalise(who.text)} ${predicate(random, who.plural)}, and ${other.text} ${predicate(random, other.plural)}.`;
  }
  return `${capitalise(who.text)} ${predicate(random, who.plural)}.`;
}

/** About `length` characters of generated fables, paragraphs split by blank lines. */
export function generateCorpus({ length = 60000, seed = 7 } = {}) {
  const random = createRandom(seed);
  const paragraphs = [];
  let size = 0;
  while (size < length) {
    const count = 3 + random.int(4);
    const sentences = [];
    for (let i = 0; i < count; i++) sentences.push(sentence(random));
    const paragraph = sentences.join(' ');
    paragraphs.push(paragraph);
    size += paragraph.length + 2;
  }
  return paragraphs.join('\n\n') + '\n';
}
