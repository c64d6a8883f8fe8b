// Client-side checks of images before upload. The server checks again, by the bytes;
// these only spare the user a round trip and say clearly what is wrong.

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
export const MAX_IMAGE_BYTES = 3_750_000; // genai.MaxImageBytes
export const MAX_IMAGES = 20; // genai.MaxImages

const mb = (n) => (n / 1_000_000).toFixed(2).replace(/\.?0+$/, '') + ' MB';

/** formatSize returns a byte count for people. */
export function formatSize(n) {
  if (n < 1000) return n + ' B';
  if (n < 1_000_000) return Math.round(n / 1000) + ' kB';
  return mb(n);
}

/** imageProblem returns why file cannot be sent, or "" when it can. */
export function imageProblem(file) {
  const name = file.name || 'The image';
  if (!IMAGE_TYPES.includes(file.type)) {
    return `${name}: ${file.type || 'this file type'} is not supported; use PNG, JPEG, GIF or WebP.`;
  }
  if (file.size > MAX_IMAGE_BYTES) {
    return `${name} is ${mb(file.size)}; the limit is 3.75 MB per image.`;
  }
  if (file.size === 0) return `${name} is empty.`;
  return '';
}

/** imageBlock reads a Blob into the API's image content block. */
export function imageBlock(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve({
        type: 'image',
        source: { type: 'base64', media_type: blob.type, data: url.slice(url.indexOf(',') + 1) },
      });
    };
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}
