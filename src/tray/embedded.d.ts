/** Files embedded with `import … with { type: "file" }`: the module's default is their path. */
declare module "systray2/traybin/*" {
  const path: string;
  export default path;
}
