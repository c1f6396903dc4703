// Entry point of the browser bundle (scripts/build-web.mjs builds it to dist/web/app.js).
import './components/tl-app.js';
