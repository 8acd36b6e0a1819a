// A file: fileBody() is sent without copying through JavaScript (respondWithFile on HTTP/2,
// a file stream with backpressure on HTTP/1.1), with Content-Length from the file's size.
//   hatchway serve examples/file.ts   then   curl -si http://127.0.0.1:8000/
import { fileURLToPath } from 'node:url';
import { fileBody, type App } from '../src/index.ts';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

const file: App = (_environ, startResponse) => {
  startResponse(200, [['content-type', 'text/markdown; charset=utf-8']]);
  return fileBody(README); // a range: fileBody(path, { start, end })
};

export default file;
