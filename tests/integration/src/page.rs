//! One interface to a browser page, whichever browser runs it, so a live
//! test can drive Chromium ([`Browser`], DevTools) and Firefox
//! ([`Firefox`], Marionette) with the same steps.

use serde_json::Value;

use crate::browser::{Browser, BrowserError};
use crate::firefox::Firefox;

/// A page in a running browser.
pub trait JsPage {
    /// Evaluates `js` in the page's global scope: the value of its last
    /// statement as JSON, a promise awaited.
    fn eval(&mut self, js: &str) -> Result<Value, BrowserError>;
    /// Loads `url` and waits until the page has loaded.
    fn navigate(&mut self, url: &str) -> Result<(), BrowserError>;
    /// The browser's name and version, for the test's notes.
    fn version(&self) -> &str;
}

impl JsPage for Browser {
    fn eval(&mut self, js: &str) -> Result<Value, BrowserError> {
        Browser::eval(self, js)
    }
    fn navigate(&mut self, url: &str) -> Result<(), BrowserError> {
        Browser::navigate(self, url)
    }
    fn version(&self) -> &str {
        &self.version
    }
}

impl JsPage for Firefox {
    fn eval(&mut self, js: &str) -> Result<Value, BrowserError> {
        Firefox::eval(self, js)
    }
    fn navigate(&mut self, url: &str) -> Result<(), BrowserError> {
        Firefox::navigate(self, url)
    }
    fn version(&self) -> &str {
        &self.version
    }
}
