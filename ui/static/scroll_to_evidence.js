// The evidence sits in a scrolling panel: bring it to the middle once the panel has been redrawn.
() => { setTimeout(() => {
  const mark = document.querySelector('#source mark#evidence');
  if (mark) mark.scrollIntoView({block: 'center'});
}, 50); }
