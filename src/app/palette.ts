/**
 * Colours for tracked people: 20, told apart at a glance (after Sasha Trubetskoy's "20
 * distinct colours", with the darkest three lightened so that each shows on a dark frame;
 * every skeleton is also drawn over a dark outline for light frames). Pairwise CIE76 ΔE is
 * at least 16 (test/app-units.test.ts). A person keeps their colour: id n takes colour
 * (n - 1) mod 20.
 */
export const PERSON_COLOURS: readonly string[] = [
  '#e6194b',
  '#3cb44b',
  '#ffe119',
  '#4363d8',
  '#f58231',
  '#911eb4',
  '#42d4f4',
  '#f032e6',
  '#bfef45',
  '#fabed4',
  '#469990',
  '#dcbeff',
  '#9a6324',
  '#fffac8',
  '#c03030',
  '#aaffc3',
  '#808000',
  '#ffd8b1',
  '#7b8cff',
  '#ffffff',
];

/** The colour of a tracked person (by id, from 1), or of the i-th pose of an untracked frame. */
export function personColour(idOrIndex: number): string {
  const n = PERSON_COLOURS.length;
  return PERSON_COLOURS[(((idOrIndex - 1) % n) + n) % n]!;
}
