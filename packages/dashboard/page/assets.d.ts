// Stylesheets imported for esbuild to bundle into dist/page/app.css.
declare module '*.css';
