// Render DiceBear avatars as SVG: many identities (style + seed) x a few variants each.
// A seed fixes the identity (hair, skin, clothes); variants change only expression options
// (eyes, mouth, eyebrows) and are the "same character, other expression" examples the identity
// embedding learns from. Usage (vpos/characters_train.py runs it with NODE_PATH set):
//   node dicebear_identities.mjs OUT_DIR IDS_PER_STYLE VARIANTS SEED
import * as col from '@dicebear/collection';
import { createAvatar } from '@dicebear/core';
import { mkdirSync, writeFileSync } from 'fs';

const [out, perStyle, variants, seed] = process.argv.slice(2);
const STYLES = ['adventurer', 'avataaars', 'bigEars', 'bigSmile', 'croodles', 'lorelei', 'micah',
  'miniavs', 'notionists', 'openPeeps', 'personas', 'toonHead', 'dylan', 'pixelArt', 'bottts'];
const EXPR = ['eyes', 'mouth', 'eyebrows'];
let state = Number(seed) >>> 0 || 1;
function rnd() { state = (state * 1664525 + 1013904223) >>> 0; return state / 4294967296; }
mkdirSync(out, { recursive: true });
for (const name of STYLES) {
  const style = col[name];
  const props = style.schema.properties;
  for (let i = 0; i < Number(perStyle); i++) {
    const id = `${name}-${seed}-${i}`;
    for (let v = 0; v < Number(variants); v++) {
      const opts = { seed: id };
      if (v > 0) {
        for (const k of EXPR) {
          const p = props[k];
          if (p && p.items && p.items.enum && rnd() < 0.8) {
            opts[k] = [p.items.enum[Math.floor(rnd() * p.items.enum.length)]];
          }
        }
        if (name === 'openPeeps' && props.face) {
          opts.face = [props.face.items.enum[Math.floor(rnd() * props.face.items.enum.length)]];
        }
      }
      writeFileSync(`${out}/${id}_${v}.svg`, createAvatar(style, opts).toString());
    }
  }
}
