// Chat messages are Markdown with a little markup of ours (<mark>, the "Open the source" button, "More
// context"); the copy buttons copy a message's source, so copies are turned back into the text people read.
// Our own Markdown (** * >) is stripped before decoding: article text in it is escaped (&#42;) and survives.
// DOMParser builds an inert document: nothing in it is run or fetched.
() => {
  const clipboard = navigator.clipboard;
  if (!clipboard || clipboard.articleqaPlain) return;
  const write = clipboard.writeText.bind(clipboard);
  clipboard.writeText = (text) => {
    const markdown = String(text).replace(/\*/g, '').replace(/^> /gm, '');
    const doc = new DOMParser().parseFromString(markdown, 'text/html');
    doc.querySelectorAll('button, details').forEach((node) => node.remove());
    return write(doc.body.textContent.replace(/\n{3,}/g, '\n\n').trim());
  };
  clipboard.articleqaPlain = true;
}
