import { copyFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IndexingWorker } from '../../api/src/indexing/indexing.worker.ts';
import { makeColourImage, syntheticImageSet } from '../fixtures/images/make-images.ts';
import { ensureTinyClip } from '../fixtures/tiny-clip/generate.ts';
import { type Backend, backends } from '../support/backends.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';
import { launchBrowser, runBrowserTests, type TestBrowser } from './browser.ts';
import { buildWebApp } from './build-web.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCREENSHOTS = path.join(here, 'screenshots');
const DOCS_IMAGE = path.resolve(here, '../../docs/images/web-app.png');
const embedded = backends[0]!;

describe.skipIf(!runBrowserTests)('web app in Chromium, tiny model', () => {
  let backend: Backend;
  let t: TestApp;
  let worker: IndexingWorker;
  let server: Server;
  let origin = '';
  let browser: TestBrowser;
  let page: Page;
  const ids = new Map<string, string>(); // synthetic image name -> image id
  const nameOf = (id: string | null) => [...ids].find(([, v]) => v === id)?.[0] ?? `#${id}`;

  const drain = async () => {
    for (let i = 0; i < 50; i++) if ((await worker.runBatch()).length === 0) return;
  };
  const resultIds = () =>
    page.$$eval('.grid li', (items) => items.map((li) => li.getAttribute('data-image-id')));
  const searchFor = async (text: string) => {
    await page.getByLabel('Search words or an image URL').fill(text);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /result|Nothing/ })
      .waitFor();
  };
  /** Every thumbnail in the grid decoded with real pixels (scrolled through: they load lazily). */
  const thumbnailsLoaded = async () => {
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    await page.waitForFunction(() => {
      const images = [...document.querySelectorAll<HTMLImageElement>('.grid img')];
      return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
    });
    await page.evaluate(() => window.scrollTo(0, 0));
  };
  // playwright-core has no expect(locator) matchers: these poll the same way
  const textOf = (locator: Locator) => expect.poll(() => locator.textContent({ timeout: 1000 }));
  const attributeOf = (locator: Locator, name: string) =>
    expect.poll(() => locator.getAttribute(name, { timeout: 1000 }));
  const focused = (locator: Locator) =>
    expect
      .poll(() => locator.evaluate((el) => el === document.activeElement, null, { timeout: 1000 }))
      .toBe(true);

  beforeAll(async () => {
    await Promise.all([ensureTinyClip(), buildWebApp()]);
    backend = await embedded.create();
    t = await createTestApp(
      backend,
      {},
      { worker: { batchSize: 8, leaseSeconds: 10, backoffBaseSeconds: 0 } },
    );
    worker = await t.services.createWorker();
    for (const image of syntheticImageSet()) {
      const bytes = await makeColourImage({ ...image.spec, size: 320 });
      const { body } = await t.upload(bytes, {
        tagsHint: image.name === 'cyan' ? ['sky'] : [],
      });
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      ids.set(image.name, (body.data as { uploadImage: { image: { id: string } } }).uploadImage.image.id);
    }
    await drain();
    server = createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser(origin);
    await mkdir(SCREENSHOTS, { recursive: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await t?.close();
    await backend?.dispose();
  });

  // a fresh page per test, at desktop size unless the test says otherwise
  afterEach(async () => {
    await page?.close();
  });
  const openPage = async (width = 1280, height = 800) => {
    page = await browser.context.newPage();
    await page.setViewportSize({ width, height });
    await page.goto(`${origin}/`);
    return page;
  };

  it('searches by typed words: "red" shows the red image first, and every thumbnail loads', async () => {
    await openPage();
    await searchFor('red');
    expect(nameOf((await resultIds())[0]!)).toBe('red');
    await thumbnailsLoaded();
    const src = await page.locator('.grid img').first().getAttribute('src');
    expect(src).toMatch(/^\/thumbs\/\d+\.webp\?size=256$/);
    // the thumbnail is the service's WebP, not the 320 px original
    const natural = await page
      .locator('.grid img')
      .first()
      .evaluate((img: HTMLImageElement) => img.naturalWidth);
    expect(natural).toBe(256);
    await textOf(page.getByTestId('model-version')).toBe('tiny-clip-v1');
  });

  it('shows the tiny-model notice; a suggested colour phrase runs that search', async () => {
    await openPage();
    const notice = page.getByRole('complementary', { name: 'Demo model notice' });
    await textOf(notice).toContain('tiny test model');
    await notice.getByRole('button', { name: 'red top blue bottom' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: /result/ })
      .waitFor();
    expect(nameOf((await resultIds())[0]!)).toBe('red-top-blue-bottom');
    await thumbnailsLoaded();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'desktop-search.png') });
    // the README's screenshot changes only when asked: pixels differ a little from run to run
    if (process.env.PIXELFIND_UPDATE_SCREENSHOTS === '1') {
      await copyFile(path.join(SCREENSHOTS, 'desktop-search.png'), DOCS_IMAGE);
    }
  });

  it('opening a result records the click and shows the image with its metadata', async () => {
    await openPage();
    await searchFor('blue');
    const blue = (await resultIds())[0]!;
    expect(nameOf(blue)).toBe('blue');
    await page.locator('.grid .thumb').first().click();
    const dialog = page.getByRole('dialog');
    await textOf(dialog.getByRole('heading')).toBe(`Image ${blue}`);
    await textOf(dialog).toContain('320 × 320');
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('dialog img');
      return img?.complete && img.naturalWidth > 0;
    });
    await expect
      .poll(async () => {
        const { rows } = await backend.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM clicks WHERE image_id = $1::bigint',
          [blue],
        );
        return rows[0]!.n;
      })
      .toBe(1);
  });

  it('"More like this" searches by the result\'s id: that image comes first', async () => {
    await openPage();
    await searchFor('white top black bottom');
    const target = ids.get('black-top-white-bottom')!;
    const cell = page.locator(`.grid li[data-image-id="${target}"]`);
    await cell.hover();
    await cell.getByRole('button', { name: /More like this/ }).click();
    await textOf(page.locator('.reference')).toContain(`More like image ${target}`);
    await page
      .getByRole('status')
      .filter({ hasText: /result/ })
      .waitFor();
    await expect.poll(async () => (await resultIds())[0]).toBe(target);
  });

  it('works by keyboard alone: Tab to the box, type, Enter, Tab to a result, Enter opens it, Escape returns', async () => {
    await openPage();
    const box = page.getByLabel('Search words or an image URL');
    for (let i = 0; i < 10 && !(await box.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press('Tab');
    }
    await focused(box);
    await page.keyboard.type('yellow');
    await page.keyboard.press('Enter');
    await page
      .getByRole('status')
      .filter({ hasText: /result/ })
      .waitFor();
    const first = page.locator('.grid .thumb').first();
    for (let i = 0; i < 40 && !(await first.evaluate((el) => el === document.activeElement)); i++) {
      await page.keyboard.press('Tab');
    }
    await focused(first);
    // score and tags show while the result has focus
    await expect
      .poll(() =>
        page
          .locator('.grid li')
          .first()
          .locator('.details')
          .evaluate((el) => getComputedStyle(el).opacity),
      )
      .toBe('1');
    await page.keyboard.press('Enter');
    await page.getByRole('dialog').waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await focused(first);
  });

  it('filters by label chips and says so plainly when nothing matches', async () => {
    await openPage();
    // two colours: the cyan image and the red ones are all relevant, so their tags are chips
    await searchFor('cyan red');
    const chip = (label: string) =>
      page.getByRole('group', { name: 'Filter by label' }).getByRole('button', { name: label, exact: true });
    await chip('sky').click();
    await attributeOf(chip('sky'), 'aria-pressed').toBe('true');
    await expect.poll(async () => (await resultIds()).map(nameOf)).toEqual(['cyan']);
    // the other chips stay; adding one the cyan image does not carry leaves nothing
    await chip('red').click();
    await page.locator('.empty').waitFor({ state: 'visible' });
    await textOf(page.locator('.empty')).toContain('Nothing relevant found');
  });

  it('says "nothing relevant" when the server finds nothing like the words (no loose matches)', async () => {
    await openPage();
    // the magenta image is not in this library's searchable set (it is rejected as unsafe)
    await searchFor('magenta');
    await page.locator('.empty').waitFor({ state: 'visible' });
    await textOf(page.locator('.empty')).toContain('Nothing relevant found');
    expect(await resultIds()).toEqual([]);
  });

  it('uploads several files at once; each goes PENDING, then INDEXED or REJECTED, live', async () => {
    await openPage();
    const files = await Promise.all(
      (['orange', 'purple', 'magenta'] as const).map(async (colour) => ({
        name: `${colour}.png`,
        mimeType: 'image/png',
        buffer: await makeColourImage({ colour, size: 200 }),
      })),
    );
    await page.getByTestId('upload-input').setInputFiles(files);
    const row = (name: string) => page.locator('.uploads li', { hasText: name });
    for (const file of files) await attributeOf(row(file.name), 'data-status').toBe('PENDING');
    await drain();
    await expect
      .poll(() => row('orange.png').getAttribute('data-status'), { timeout: 15_000 })
      .toBe('INDEXED');
    await attributeOf(row('purple.png'), 'data-status').toBe('INDEXED');
    await attributeOf(row('magenta.png'), 'data-status').toBe('REJECTED');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'desktop-upload.png'), fullPage: true });
  });

  it('fits a phone-sized screen without sideways scrolling', async () => {
    await openPage(390, 844);
    await searchFor('green');
    await thumbnailsLoaded();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'phone-search.png') });
  });

  it('serves GraphiQL that renders with the network closed', async () => {
    await openPage();
    await page.goto(`${origin}/graphql`);
    await page.locator('.graphiql-editor').first().waitFor({ state: 'visible' });
    expect(await page.title()).toBe('Pixelfind GraphiQL');
  });

  it('loaded nothing from anywhere but the API', () => {
    expect(browser.outside).toEqual([]);
  });
});
