// The GraphQL multipart upload (the upload spec) that tests send to an app or a running server.

/** The upload mutation the tests send: the file goes in variables.input.file; the caller is the uploader. */
export const UPLOAD_MUTATION = `mutation Upload($input: UploadImageInput!) {
  uploadImage(input: $input) { created image { id status storageUrl width height uploaderId } }
}`;

/** The GraphQL multipart request of UPLOAD_MUTATION with `file` at variables.input.file (`map` to replace it). */
export function uploadForm(
  file: Buffer,
  input: { tagsHint?: readonly string[] | null } = {},
  options: { filename?: string; type?: string; map?: string } = {},
): FormData {
  const form = new FormData();
  form.set(
    'operations',
    JSON.stringify({ query: UPLOAD_MUTATION, variables: { input: { ...input, file: null } } }),
  );
  form.set('map', options.map ?? JSON.stringify({ 0: ['variables.input.file'] }));
  form.set(
    '0',
    new Blob([new Uint8Array(file)], { type: options.type ?? 'application/octet-stream' }),
    options.filename ?? 'image',
  );
  return form;
}
