// SPEC.md to HTML for the spec page (spec.html), with marked: numbered
// sections get stable ids (`## 4. …` is #s4), their subsections
// #s4-<words>, and every "§n" in the text links to #sn. Pure: no DOM, so
// the tests render the spec in Node with the same code.

/** The id of a heading: "4. Backpropagation …" is s4; a subsection of 4 is s4-<slug>. */
export function sectionId(title, depth, section) {
  const numbered = /^(\d+)\.\s/.exec(title);
  if (numbered && depth === 2) return `s${numbered[1]}`;
  const slug = title.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  return section ? `s${section}-${slug}` : slug;
}

/** The section numbers "§n" cites in a text, in order (duplicates kept). */
export function citedSections(text) {
  return [...text.matchAll(/§\s?(\d+)/g)].map((m) => Number(m[1]));
}

// An inline marked extension: "§n" outside code becomes a link to section n.
const sectionRef = {
  name: 'sectionRef',
  level: 'inline',
  start: (src) => src.indexOf('§'),
  tokenizer(src) {
    const m = /^§(\d+)/.exec(src);
    return m ? { type: 'sectionRef', raw: m[0], section: m[1] } : undefined;
  },
  renderer: (token) => `<a class="spec-ref" href="#s${token.section}">§${token.section}</a>`,
};

const escapeAttribute = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The spec as HTML, and its headings [{ id, depth, text }].
 * `Marked` is marked's class (the module's export of that name).
 */
export function renderSpec(Marked, markdown) {
  const headings = [];
  let section = null;
  const marked = new Marked({ gfm: true });
  marked.use({
    extensions: [sectionRef],
    renderer: {
      heading({ tokens, depth, text }) {
        const id = sectionId(text, depth, depth > 2 ? section : null);
        if (depth <= 2) section = /^s(\d+)$/.exec(id)?.[1] ?? null;
        headings.push({ id, depth, text });
        return `<h${depth} id="${escapeAttribute(id)}">${this.parser.parseInline(tokens)}</h${depth}>\n`;
      },
    },
  });
  const html = marked.parse(markdown);
  return { html, headings };
}
