// Finding things in VS Code's workbench (code-server), for the browser scripts.

/** The Explorer's row of `file`. */
export const fileRow = (page, file) =>
  page.getByRole('treeitem', { name: new RegExp(`^${file}`) }).first();

/** The text lines of the editor in front. */
export const editorLines = (page) =>
  page.locator('.editor-instance .monaco-editor .view-lines').first();

/** Opens the workbench at `url` and `file` in an editor (double click in the
 * Explorer); returns the editor's lines once shown. */
export async function openFile(page, url, file, timeout) {
  await page.goto(url, { timeout });
  const row = fileRow(page, file);
  await row.waitFor({ timeout });
  await row.dblclick();
  const editor = editorLines(page);
  await editor.waitFor({ timeout });
  return editor;
}
