# ruff: noqa: E501  (the page is one literal; its long lines are JavaScript)
"""A self-contained HTML page that renders /api/v1/openapi.json (no CDN, no internet)."""

from __future__ import annotations

DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quantix API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2433;background:#f6f7f9}
header{background:#1d2433;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
h2{margin:28px 0 8px;text-transform:capitalize;border-bottom:1px solid #ccd;padding-bottom:4px}
details{background:#fff;border:1px solid #dde;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:center}
.m{font-weight:700;width:64px;text-align:center;border-radius:4px;color:#fff;padding:2px 0}
.GET{background:#2f7bd8}.POST{background:#2f9e5b}.PUT,.PATCH{background:#c98a12}
.DELETE{background:#c8413b}.p{font-family:ui-monospace,monospace}.r{margin-left:auto;color:#667}
pre{background:#f0f2f5;padding:8px;overflow:auto;margin:6px 12px 12px}.d{padding:0 12px}
input{padding:6px;width:320px;margin:8px 0}
</style></head><body><header><h1>Quantix API</h1><div id="info"></div></header>
<main><input id="q" placeholder="filter operations"><div id="ops">loading openapi.json ...</div>
</main><script>
function el(t,c,x){const e=document.createElement(t);if(c)e.className=c;if(x!==undefined)e.textContent=x;return e}
async function load(){
  const r=await fetch('openapi.json',{credentials:'same-origin'});
  const box=document.getElementById('ops');
  if(!r.ok){box.textContent='cannot load the document ('+r.status+'): log in first';return}
  const doc=await r.json();
  document.getElementById('info').textContent=doc.info.title+' '+doc.info.version+' - OpenAPI '+doc.openapi;
  const byTag={};
  for(const [path,ops] of Object.entries(doc.paths))for(const [m,op] of Object.entries(ops)){
    const t=(op.tags||['other'])[0];(byTag[t]=byTag[t]||[]).push([m.toUpperCase(),path,op])}
  box.textContent='';
  for(const t of Object.keys(byTag).sort()){
    box.appendChild(el('h2','',t));
    for(const [m,path,op] of byTag[t]){
      const d=el('details');d.dataset.k=(m+' '+path+' '+op.summary).toLowerCase();
      const s=el('summary');s.append(el('span','m '+m,m),el('span','p',path),el('span','',op.summary),
        el('span','r',op['x-required-role']?'role: '+op['x-required-role']:'open'));
      d.appendChild(s);
      if(op.description)d.appendChild(el('p','d',op.description));
      if(op.parameters)d.appendChild(el('pre','','parameters: '+JSON.stringify(op.parameters,null,2)));
      if(op.requestBody)d.appendChild(el('pre','','body: '+JSON.stringify(op.requestBody.content['application/json'].schema,null,2)));
      for(const [st,resp] of Object.entries(op.responses)){const c=resp.content||{};
        for(const [ct,v] of Object.entries(c))d.appendChild(el('pre','',st+' '+ct+': '+JSON.stringify(v.schema,null,2)))}
      box.appendChild(d)}}
}
document.getElementById('q').addEventListener('input',e=>{const q=e.target.value.toLowerCase();
  for(const d of document.querySelectorAll('details'))d.style.display=d.dataset.k.includes(q)?'':'none'});
load();
</script></body></html>
"""
