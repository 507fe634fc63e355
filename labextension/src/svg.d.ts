// SVG files are imported as their text (the JupyterLab builder's webpack config does that).
declare module '*.svg' {
  const value: string;
  export default value;
}
