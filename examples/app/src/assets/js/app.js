// Shows the build id (from version.txt) and a clock.
fetch('version.txt')
  .then(response => (response.ok ? response.text() : 'unknown'))
  .then(text => {
    document.getElementById('build').textContent = text.trim()
  })

function tick() {
  document.getElementById('clock').textContent = new Date().toLocaleTimeString()
}
tick()
setInterval(tick, 1000)
