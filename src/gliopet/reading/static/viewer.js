// gliopet blinded reading: the case viewer (NiiVue, served by the app itself).
// PET (SUV, g/mL) over CT; multiplanar plus one large view; colour map, SUV window, opacity;
// the crosshair shows the SUV under it; "Mark lesion" copies the crosshair (LPS mm) into the form.
import { Niivue, SHOW_RENDER, SLICE_TYPE } from "/static/niivue.js";

const canvas = document.getElementById("gl");
const suvReadout = document.getElementById("suv-readout");
const posReadout = document.getElementById("pos-readout");
const nv = new Niivue({
  backColor: [0, 0, 0, 1],
  crosshairColor: [0.2, 1, 0.2, 1],
  isColorbar: true,
  show3Dcrosshair: true,
  dragAndDropEnabled: false,
});
const state = { petIndex: 0, ready: false, lps: null };
window.gliopetViewer = state;

function lpsOf(mmRas) {
  return [-mmRas[0], -mmRas[1], mmRas[2]];
}

function update() {
  if (!state.ready) return;
  const mm = nv.frac2mm(nv.scene.crosshairPos);
  const pet = nv.volumes[state.petIndex];
  const vox = pet.mm2vox([mm[0], mm[1], mm[2]]);
  const inside = vox.every((v, axis) => v >= 0 && v < pet.hdr.dims[axis + 1]);
  const suv = inside ? pet.getValue(vox[0], vox[1], vox[2]) : NaN;
  state.lps = lpsOf(mm);
  state.suv = suv;
  suvReadout.dataset.suv = String(suv);
  suvReadout.textContent = inside ? `SUV ${suv.toFixed(3)} g/mL` : "SUV -";
  posReadout.textContent = `LPS ${state.lps.map((v) => v.toFixed(1)).join(", ")} mm`;
}

// Tests and keyboard users: put the crosshair at an LPS position (mm).
state.moveToLps = (x, y, z) => {
  nv.scene.crosshairPos = nv.mm2frac([-x, -y, z]);
  nv.drawScene();
  update();
  return state.suv;
};

function setLayout(value) {
  const types = { axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, sagittal: SLICE_TYPE.SAGITTAL };
  if (value === "multi") {
    nv.opts.multiplanarShowRender = SHOW_RENDER.NEVER;
    nv.opts.heroSliceType = SLICE_TYPE.AXIAL;
    nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
    nv.setHeroImage(0.6);
  } else {
    nv.setHeroImage(0);
    nv.setSliceType(types[value]);
  }
}

async function start() {
  await nv.attachToCanvas(canvas);
  const list = [];
  const ct = canvas.dataset.ct;
  if (ct) list.push({ url: ct, name: "ct.nii.gz", colormap: "gray", cal_min: -150, cal_max: 250, opacity: 1 });
  list.push({ url: canvas.dataset.pet, name: "pet.nii.gz", colormap: "hot", cal_min: 0, cal_max: 5, opacity: 0.7 });
  try {
    await nv.loadVolumes(list);
  } catch (err) {
    // A case without CT: show the PET alone.
    if (list.length === 2) {
      list.shift();
      await nv.loadVolumes(list);
    } else {
      throw err;
    }
  }
  state.petIndex = nv.volumes.length - 1;
  nv.onLocationChange = update;
  setLayout("multi");
  let kept = null;
  try { kept = localStorage.getItem("gliopet-orientation"); } catch (e) { /* storage off */ }
  orientation.value = kept === "neurological" ? "neurological" : "radiological";
  setOrientation(orientation.value);
  state.ready = true;
  update();
  canvas.dataset.loaded = "true";
}

function petWindow() {
  const pet = nv.volumes[state.petIndex];
  pet.cal_min = parseFloat(document.getElementById("suv-min").value);
  pet.cal_max = parseFloat(document.getElementById("suv-max").value);
  nv.updateGLVolume();
}

document.getElementById("colormap").addEventListener("change", (e) => {
  nv.setColormap(nv.volumes[state.petIndex].id, e.target.value);
});
document.getElementById("suv-min").addEventListener("change", petWindow);
document.getElementById("suv-max").addEventListener("change", petWindow);
document.getElementById("opacity").addEventListener("input", (e) => {
  nv.setOpacity(state.petIndex, parseFloat(e.target.value));
});
document.getElementById("layout").addEventListener("change", (e) => setLayout(e.target.value));
// Radiological convention by default (as PET/CT is read: the patient's left on the screen's right); the
// reader's choice is kept in this browser only (localStorage), never on the server.
state.isRadiological = () => nv.opts.isRadiologicalConvention;
function setOrientation(value) {
  nv.setRadiologicalConvention(value === "radiological");
  state.orientation = value;
  try { localStorage.setItem("gliopet-orientation", value); } catch (e) { /* storage off: the default stays */ }
}
const orientation = document.getElementById("orientation");
orientation.addEventListener("change", (e) => setOrientation(e.target.value));
document.getElementById("mark-lesion").addEventListener("click", () => {
  if (!state.lps) return;
  ["lesion-x", "lesion-y", "lesion-z"].forEach((id, axis) => {
    document.getElementById(id).value = state.lps[axis].toFixed(1);
  });
});

start().catch((err) => {
  canvas.dataset.loaded = "error";
  suvReadout.textContent = "The viewer could not load this case.";
  console.error(err);
});
