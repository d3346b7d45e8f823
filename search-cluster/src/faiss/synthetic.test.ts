import { describe, expect, it } from 'vitest';
import { normalizeRows } from '../vector-math.ts';
import {
  clusteredUnitVectors,
  groupCentres,
  randomNormal,
  seededRandom,
  unitVectorsAround,
} from './synthetic.ts';

const dimension = 64;
const dotRows = (a: Float32Array, i: number, b: Float32Array, j: number) => {
  let sum = 0;
  for (let k = 0; k < dimension; k++) sum += a[i * dimension + k]! * b[j * dimension + k]!;
  return sum;
};

describe('groupCentres', () => {
  const anchors = normalizeRows(randomNormal(3 * dimension, 1), dimension);
  const perAnchor = 2000;
  const centres = groupCentres({ anchors, dimension, perAnchor, intrinsicDimension: 4, seed: 5 });

  it('draws unit centres anchor-major, each within the largest angle of its own anchor', () => {
    expect(centres.length).toBe(3 * perAnchor * dimension);
    for (let g = 0; g < 3 * perAnchor; g++) {
      expect(dotRows(centres, g, centres, g)).toBeCloseTo(1, 5);
      expect(dotRows(centres, g, anchors, Math.floor(g / perAnchor))).toBeGreaterThanOrEqual(-1e-6);
    }
  });

  it('has a sparse small-angle tail: the share within half the largest angle is 2^-intrinsicDimension', () => {
    let within = 0;
    for (let g = 0; g < 3 * perAnchor; g++) {
      const angle = Math.acos(Math.min(1, dotRows(centres, g, anchors, Math.floor(g / perAnchor))));
      if (angle < Math.PI / 4) within++;
    }
    // 6,000 groups, expected share 1/16 (375): a binomial's 4 sigma is ~ +-73
    expect(within).toBeGreaterThan(300);
    expect(within).toBeLessThan(450);
  });

  it('is seeded', () => {
    const some = (seed: number) =>
      groupCentres({ anchors, dimension, perAnchor: 20, intrinsicDimension: 4, seed });
    expect(some(5)).toEqual(some(5));
    expect(some(6)).not.toEqual(some(5));
  });
});

describe('unitVectorsAround', () => {
  const centres = normalizeRows(randomNormal(5 * dimension, 2), dimension);

  it('draws the same rows however they are batched, and names each row’s centre', () => {
    const whole = unitVectorsAround(centres, dimension, seededRandom(3), 0.5)(100);
    const batched = unitVectorsAround(centres, dimension, seededRandom(3), 0.5);
    const first = batched(30);
    const rest = batched(70);
    expect(Float32Array.from([...first.vectors, ...rest.vectors])).toEqual(whole.vectors);
    expect(Uint32Array.from([...first.centre, ...rest.centre])).toEqual(whole.centre);
    for (let i = 0; i < 100; i++) {
      // noise of norm 0.5 around a unit centre: cosine ~ 1 / sqrt(1.25) = 0.89
      expect(dotRows(whole.vectors, i, centres, whole.centre[i]!)).toBeGreaterThan(0.75);
    }
  });

  it('is what clusteredUnitVectors draws around random centres', () => {
    const rows = clusteredUnitVectors({ count: 50, dimension, clusters: 5, seed: 9, spread: 0.5 });
    const around = unitVectorsAround(
      normalizeRows(randomNormal(5 * dimension, 9), dimension),
      dimension,
      seededRandom(9 ^ 0x9e3779b9),
      0.5,
    )(50);
    expect(around.vectors).toEqual(rows);
  });
});

describe('clusteredUnitVectors families', () => {
  const meanPairCosine = (rows: Float32Array) => {
    const count = rows.length / dimension;
    let sum = 0;
    let pairs = 0;
    for (let i = 0; i < count; i++)
      for (let j = i + 1; j < count; j++) {
        sum += dotRows(rows, i, rows, j);
        pairs++;
      }
    return sum / pairs;
  };
  const shape = { count: 400, dimension, clusters: 40, seed: 11 };

  it('reads a one-level list as the number', () => {
    expect(clusteredUnitVectors({ ...shape, families: [8] })).toEqual(
      clusteredUnitVectors({ ...shape, families: 8 }),
    );
  });

  it('nests further levels: every row shares the one coarsest centre, so rows lean together', () => {
    // noise of norm 1 at each of three levels: a row's cosine to its centre ~ 1/sqrt(2), so two
    // rows meeting only at the top centre have cosine ~ (1/sqrt(2))^6 = 0.125
    const nested = meanPairCosine(clusteredUnitVectors({ ...shape, families: [8, 1] }));
    expect(nested).toBeGreaterThan(0.09);
    expect(nested).toBeLessThan(0.2);
    // independent centres: nearly orthogonal rows on average
    expect(Math.abs(meanPairCosine(clusteredUnitVectors(shape)))).toBeLessThan(0.05);
  });
});
