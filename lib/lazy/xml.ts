// @azure/core-xml with fast-xml-parser (about 140 KiB bundled): @azure/data-tables hands its
// parse and stringify functions to the HTTP pipeline, but only the table service's
// properties and access policies travel as XML, and guestpass uses neither. In the app
// bundle, scripts/build.mjs puts a stand-in for @azure/core-xml that loads this bundle
// the first time either function is called.
export { parseXML, stringifyXML } from '@azure/core-xml';
